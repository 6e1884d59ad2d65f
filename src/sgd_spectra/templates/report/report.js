// Sorting and filtering for the claims tables.  The tables are complete, plain HTML without this
// script (offline, or with scripts disabled); the script only adds the controls.
(function () {
  "use strict";
  var FILTERS = [["verdict", "verdict"], ["dataset", "dataset"], ["section", "section"]];

  // A cell's sort key: its numeric column (data-value) where the claim has one, else its text.
  function sortKey(cell) {
    var value = cell.getAttribute("data-value");
    if (value !== null && value !== "" && !isNaN(parseFloat(value))) {
      return {number: parseFloat(value)};
    }
    return {text: cell.textContent.trim().toLowerCase()};
  }

  function compare(a, b) {
    if ("number" in a && "number" in b) { return a.number - b.number; }
    if ("number" in a) { return -1; }           // numbers before text
    if ("number" in b) { return 1; }
    return a.text.localeCompare(b.text, undefined, {numeric: true});
  }

  function sortBy(table, column, header) {
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var d = compare(sortKey(r1.cells[column]), sortKey(r2.cells[column]));
      return ascending ? d : -d;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function makeSortable(table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
      header.classList.add("sortable");
      header.tabIndex = 0;
      header.title = "Sort by " + header.textContent;
      header.addEventListener("click", function () { sortBy(table, column, header); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(table, column, header); }
      });
    });
  }

  function distinct(rows, attribute) {
    var seen = {};
    rows.forEach(function (row) { seen[row.getAttribute("data-" + attribute) || ""] = true; });
    return Object.keys(seen).filter(function (v) { return v !== ""; }).sort();
  }

  function makeFilterable(view, table) {
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var bar = document.createElement("div");
    bar.className = "claim-filters";
    var selects = {};
    FILTERS.forEach(function (filter) {
      var label = document.createElement("label");
      label.textContent = filter[1] + " ";
      var select = document.createElement("select");
      select.name = filter[0];
      select.appendChild(new Option("all", ""));
      distinct(rows, filter[0]).forEach(function (value) { select.appendChild(new Option(value, value)); });
      select.addEventListener("change", apply);
      selects[filter[0]] = select;
      label.appendChild(select);
      bar.appendChild(label);
    });
    var shown = document.createElement("span");
    shown.className = "shown";
    bar.appendChild(shown);
    view.insertBefore(bar, table);

    function apply() {
      var count = 0;
      rows.forEach(function (row) {
        var visible = FILTERS.every(function (filter) {
          var wanted = selects[filter[0]].value;
          return wanted === "" || row.getAttribute("data-" + filter[0]) === wanted;
        });
        row.hidden = !visible;
        if (visible) { count += 1; }
      });
      shown.textContent = count + " of " + rows.length + " rows shown";
    }
    apply();
  }

  function enhance() {
    Array.prototype.forEach.call(document.querySelectorAll(".claims-view"), function (view) {
      var table = view.querySelector("table.claims");
      if (!table || !table.tHead || !table.tBodies.length) { return; }
      makeSortable(table);
      makeFilterable(view, table);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhance);
  } else {
    enhance();
  }
})();
