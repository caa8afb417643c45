"""The site's stylesheet and its one script (sortable tables), written as files beside the pages."""

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222;
       padding: 0 1em; }
nav { margin-bottom: 1.5em; } nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th { background: #f3f3f3; } table.sortable th { cursor: pointer; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; }
.note { color: #777; font-size: 0.9em; }
"""

# Click a header to sort by that column (numbers numerically, the rest as text); again to reverse.
JS = """
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('th').forEach(function (th, column) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0];
        var rows = Array.from(body.rows);
        var up = th.getAttribute('aria-sort') !== 'ascending';
        table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
        function key(row) {
          var text = row.cells[column].getAttribute('data-sort') || row.cells[column].textContent;
          var number = parseFloat(text);
          return isNaN(number) ? text.toLowerCase() : number;
        }
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          var order = (typeof x === typeof y) ? (x < y ? -1 : x > y ? 1 : 0)
                                              : (typeof x === 'number' ? -1 : 1);
          return up ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
});
"""
