// Draws a customer's ego network (/api/network/<id>) or a community (/api/community/<id>) with
// Cytoscape (vendored in the package).  Data goes into the canvas drawing or into textContent:
// never into HTML markup.
"use strict";

(function () {
  const box = document.getElementById("graph");
  const status = document.getElementById("graph-status");
  if (!box) { return; }
  const kind = box.dataset.kind || "ego";
  // One colour per business role of the graph stage (tiewise.graph.roles.BUSINESS_ROLES); a
  // community's leaders (top by tie strength, any role) get a dark ring instead.
  const colours = { hub: "#6a4c93", bridge: "#edae49", follower: "#00798c", marginal: "#9aa3b5" };
  const LABELLED = 12;  // labels drawn at once: the centre, leaders and the strongest ties
  let cy = null;
  let selected = null;

  function colour(n) {
    if (n.is_service) { return "#222222"; }
    if (n.on_network === false) { return "#ffffff"; }
    return colours[n.business_role] || "#9aa3b5";
  }

  function show(n) {
    selected = n;
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
    const expand = document.getElementById("expand");
    if (expand) { expand.hidden = Boolean(n.center) || Boolean(n.expanded); }
    document.querySelector("#details h2").textContent = n.center ? "The centre" : "A contact";
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("the server answered " + r.status); }
        return r.json();
      });
  }

  function nodeData(n, ring, small) {
    return Object.assign({}, n, {
      label: n.id.slice(0, 8),
      colour: colour(n),
      size: small ? 8 + 3 * Math.log1p(n.contacts || 1) : 14 + 6 * Math.log1p(n.contacts || 1),
      ring: ring,
      offnet: n.on_network === false ? 1 : 0,
    });
  }

  function edgeData(e) {
    const a = e.source < e.target ? e.source : e.target;
    const b = e.source < e.target ? e.target : e.source;
    return { id: JSON.stringify([a, b]), source: e.source, target: e.target,
             strength: e.strength, width: 0.5 + 2 * Math.log1p(e.strength || 0) };
  }

  // Labels only where they cannot pile up: in order (the centre, leaders, the strongest ties),
  // a label is drawn when its box overlaps no label drawn before, up to LABELLED of them.
  function label() {
    cy.nodes().removeClass("labelled");
    const key = function (n) {
      return (n.data("center") ? 1e9 : 0) + (n.data("is_leader") ? 1e6 : 0) +
        (n.data("strength") || n.data("weighted_degree") || 0);
    };
    const ranked = cy.nodes().toArray().sort(function (x, y) { return key(y) - key(x); });
    const boxes = [];
    for (const n of ranked) {
      if (boxes.length >= LABELLED) { break; }
      const p = n.renderedPosition();
      const w = 6.5 * n.data("label").length + 4;
      const top = p.y + n.renderedHeight() / 2;
      const b = { x1: p.x - w / 2, x2: p.x + w / 2, y1: top, y2: top + 15 };
      const clash = boxes.some(function (o) {
        return b.x1 < o.x2 && o.x1 < b.x2 && b.y1 < o.y2 && o.y1 < b.y2;
      });
      if (!clash) { boxes.push(b); n.addClass("labelled"); }
    }
  }

  const style = [
    { selector: "node", style: {
      "background-color": "data(colour)", "width": "data(size)", "height": "data(size)",
      "label": "", "font-size": 10, "color": "#1d2433",
      "text-valign": "bottom", "text-margin-y": 2,
      "text-background-color": "#ffffff", "text-background-opacity": 0.85,
      "text-background-padding": 1,
      "border-width": 1, "border-color": "#5b6478" } },
    { selector: "node.labelled, node:selected, node.hover", style: { "label": "data(label)",
                                                                      "z-index": 10 } },
    { selector: "node[offnet = 1]", style: { "border-style": "dashed", "border-width": 2 } },
    { selector: "node[?is_leader]", style: { "border-width": 3, "border-color": "#7a1020" } },
    { selector: "node[?center]", style: { "border-width": 4, "border-color": "#1d2433",
                                           "font-weight": "bold", "font-size": 11 } },
    { selector: "edge", style: { "width": "data(width)", "line-color": "#aab3c5",
                                 "curve-style": "haystack", "opacity": 0.7 } },
    { selector: ":selected", style: { "overlay-color": "#1f5fbf", "overlay-opacity": 0.25 } },
  ];

  function draw(elements, layout) {
    if (cy) { cy.destroy(); }
    cy = cytoscape({ container: box, elements: elements, style: style, layout: layout });
    box.graph = cy;  // for the browser tests (and the curious, from the console)
    cy.on("tap", "node", function (evt) { show(evt.target.data()); });
    cy.on("mouseover", "node", function (evt) { evt.target.addClass("hover"); });
    cy.on("mouseout", "node", function (evt) { evt.target.removeClass("hover"); });
    cy.on("zoom", function () { label(); });
    label();
  }

  function ego(limit) {
    const url = box.dataset.api + "?limit=" + encodeURIComponent(limit);
    return getJSON(url).then(function (data) {
      const centre = data.nodes.find(function (n) { return n.center; }) || {};
      const toCentre = {};
      for (const e of data.edges) {
        if (e.source === data.center) { toCentre[e.target] = e.strength; }
        if (e.target === data.center) { toCentre[e.source] = e.strength; }
      }
      const elements = [];
      for (const n of data.nodes) {
        n.strength = toCentre[n.id];
        elements.push({ data: nodeData(n, n.center ? 2 : (n.community === centre.community ? 1 : 0)) });
      }
      for (const e of data.edges) { elements.push({ data: edgeData(e) }); }
      draw(elements, { name: "concentric", concentric: function (n) { return n.data("ring"); },
                       levelWidth: function () { return 1; }, minNodeSpacing: 14,
                       animate: false });
      show(centre);
      status.textContent = "Their " + data.contacts_drawn + " strongest of " +
        data.contacts_total + " contacts, and " + data.edges.length + " links among them.";
      document.body.dataset.graphReady = String(data.nodes.length);
    });
  }

  function expand() {
    if (!selected || selected.center) { return; }
    const id = selected.id;
    const url = "/api/network/" + encodeURIComponent(id) + "?limit=10";
    getJSON(url).then(function (data) {
      const added = [];
      for (const n of data.nodes) {
        if (cy.getElementById(n.id).length === 0) {
          added.push({ group: "nodes", data: nodeData(Object.assign({}, n, { center: false }), 0) });
        }
      }
      cy.add(added);
      for (const e of data.edges) {
        const d = edgeData(e);
        if (cy.getElementById(d.id).length === 0) { cy.add({ group: "edges", data: d }); }
      }
      cy.getElementById(id).data("expanded", true);
      cy.layout({ name: "cose", animate: false, randomize: false, nodeRepulsion: 40000,
                  nodeOverlap: 40, idealEdgeLength: 90, gravity: 0.4 }).run();
      label();
      status.textContent = "Expanded " + id.slice(0, 8) + ": " + added.length +
        " more contacts drawn (" + cy.nodes().length + " in all).";
      document.body.dataset.expanded = String(added.length);
      show(cy.getElementById(id).data());
    }).catch(function (err) { status.textContent = "Could not expand: " + err.message; });
  }

  function community() {
    return getJSON(box.dataset.api).then(function (data) {
      const elements = [];
      for (const n of data.nodes) { elements.push({ data: nodeData(n, 0, true) }); }
      for (const e of data.edges) { elements.push({ data: edgeData(e) }); }
      draw(elements, { name: "cose", animate: false, randomize: false, nodeRepulsion: 40000,
                       nodeOverlap: 40, idealEdgeLength: 90, edgeElasticity: 60,
                       gravity: 0.4, numIter: 1000, componentSpacing: 60 });
      status.textContent = data.sampled
        ? "The " + data.nodes.length + " strongest of " + data.members + " members " +
          "(leaders and bridges first) and " + data.edges.length + " links among them: a sample."
        : "All " + data.nodes.length + " members and " + data.edges.length + " links.";
      document.body.dataset.graphReady = String(data.nodes.length);
    });
  }

  const done = kind === "community" ? community() : ego(box.dataset.limit || 60);
  done.catch(function (err) {
    status.textContent = "Could not draw the network: " + err.message;
    document.body.dataset.graphReady = "error";
  });
  const control = document.getElementById("contacts-limit");
  if (control) {
    control.addEventListener("change", function () {
      delete document.body.dataset.graphReady;
      ego(control.value).catch(function (err) {
        status.textContent = "Could not draw the network: " + err.message;
        document.body.dataset.graphReady = "error";
      });
    });
  }
  const button = document.getElementById("expand");
  if (button) { button.addEventListener("click", expand); }
})();
