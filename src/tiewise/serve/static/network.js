// Draws a customer's ego network from /api/network/<id> with Cytoscape (vendored in the
// package).  Data goes into the canvas drawing or into textContent: never into HTML markup.
"use strict";

(function () {
  const box = document.getElementById("graph");
  const status = document.getElementById("graph-status");
  if (!box) { return; }
  const colours = { leader: "#d1495b", bridge: "#edae49", follower: "#00798c", marginal: "#9aa3b5" };

  function colour(n) {
    if (n.is_service) { return "#222222"; }
    if (n.on_network === false) { return "#ffffff"; }
    return colours[n.business_role] || "#9aa3b5";
  }

  function show(n) {
    const list = document.getElementById("details-list");
    list.replaceChildren();
    const fields = [
      ["id", n.id], ["community", n.community], ["role", n.business_role],
      ["leader", n.is_leader ? "yes, rank " + n.rank_in_community : "no"],
      ["customer", n.on_network === false ? "no (off-network contact)" : "yes"],
      ["contacts", n.contacts], ["value segment", n.value_segment],
      ["churn probability", n.p_churn == null ? null : Number(n.p_churn).toFixed(3)],
      ["link strength to centre", n.strength == null ? null : Number(n.strength).toFixed(2)],
    ];
    for (const [label, value] of fields) {
      if (value === undefined || value === null) { continue; }
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = String(value);
      list.append(dt, dd);
    }
    const link = document.getElementById("details-link");
    link.href = "/customer/" + encodeURIComponent(n.id);
    link.hidden = false;
    document.querySelector("#details h2").textContent = n.center ? "The centre" : "A contact";
  }

  fetch(box.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) {
      if (!r.ok) { throw new Error("the server answered " + r.status); }
      return r.json();
    })
    .then(function (data) {
      const centre = data.nodes.find(function (n) { return n.center; }) || {};
      const toCentre = {};
      for (const e of data.edges) {
        if (e.source === data.center) { toCentre[e.target] = e.strength; }
        if (e.target === data.center) { toCentre[e.source] = e.strength; }
      }
      const elements = [];
      for (const n of data.nodes) {
        n.strength = toCentre[n.id];
        elements.push({ data: Object.assign({}, n, {
          label: n.id.slice(0, 6),
          colour: colour(n),
          size: 14 + 6 * Math.log1p(n.contacts || 1),
          ring: n.center ? 2 : (n.community === centre.community ? 1 : 0),
          offnet: n.on_network === false ? 1 : 0,
        }) });
      }
      for (const e of data.edges) {
        elements.push({ data: { id: "e" + elements.length, source: e.source, target: e.target,
                                width: 0.5 + 1.5 * Math.log1p(e.strength) } });
      }
      const cy = cytoscape({
        container: box,
        elements: elements,
        style: [
          { selector: "node", style: {
            "background-color": "data(colour)", "width": "data(size)", "height": "data(size)",
            "label": "data(label)", "font-size": 9, "color": "#1d2433",
            "text-valign": "bottom", "text-margin-y": 2,
            "border-width": 1, "border-color": "#5b6478" } },
          { selector: "node[offnet = 1]", style: { "border-style": "dashed", "border-width": 2 } },
          { selector: "node[?center]", style: { "border-width": 4, "border-color": "#1d2433",
                                                 "font-weight": "bold", "font-size": 11 } },
          { selector: "edge", style: { "width": "data(width)", "line-color": "#aab3c5",
                                       "curve-style": "haystack", "opacity": 0.7 } },
          { selector: ":selected", style: { "overlay-color": "#1f5fbf", "overlay-opacity": 0.25 } },
        ],
        layout: { name: "concentric", concentric: function (n) { return n.data("ring"); },
                  levelWidth: function () { return 1; }, minNodeSpacing: 8, animate: false },
        wheelSensitivity: 0.3,
      });
      cy.on("tap", "node", function (evt) { show(evt.target.data()); });
      show(centre);
      status.textContent = "Their " + data.contacts_drawn + " strongest of " +
        data.contacts_total + " contacts, and " + data.edges.length + " links among them.";
      document.body.dataset.graphReady = String(data.nodes.length);
    })
    .catch(function (err) {
      status.textContent = "Could not draw the network: " + err.message;
      document.body.dataset.graphReady = "error";
    });
})();
