namespace MultiTenant.AspNetCore.Dashboard;

/// <summary>
/// The dashboard's style and script, inlined into the page: no front-end build and no static files to serve. The script listens to
/// the server-sent events of <c>events</c> (status and pairing changes, and every 2 s a <c>traffic</c> event with this host's summary and
/// the message counts of the page's rows, whose ids it passes as <c>?ids=</c>) and updates the page in place; the buttons
/// post to <c>tenants/{id}/{action}</c> with the page's anti-forgery token in a header; a 401 (signed out) reloads the page, which sends
/// the browser to the sign-in form.
/// </summary>
internal static class DashboardAssets
{
    public const string Css = """
        body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}table{border-collapse:collapse;margin:.5rem 0}
        th,td{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left;font-size:.9rem}th{background:#f4f4f4}
        tr.connected .state{color:#17803d;font-weight:600}tr.error .state{color:#b3261e;font-weight:600}
        tr.disconnected .state,tr.starting .state{color:#a36a00}tr.stopped .state{color:#777}
        #session form{display:inline}#signin input{font-family:monospace}td.error,p.error{max-width:28rem;color:#b3261e}code.qr{display:inline-block;max-width:18rem;word-break:break-all;font-size:.7rem;
        border:3px solid #000;padding:.3rem;background:#fff}button{margin-right:.2rem}#live{color:#777;font-size:.8rem}
        """;

    public const string Script = """
        (function () {
          var base = document.body.dataset.base;
          var csrf = {}; csrf[document.body.dataset.csrfHeader] = document.body.dataset.csrf;
          var tbody = document.querySelector('#tenants tbody');
          var live = document.getElementById('live');
          function row(id) { return tbody.querySelector('tr[data-id="' + CSS.escape(id) + '"]'); }
          function filterMatches(s) {
            var p = new URLSearchParams(location.search);
            var q = (p.get('q') || '').toLowerCase(), st = p.get('status') || '';
            return (!q || s.business_id.toLowerCase().indexOf(q) >= 0) && (!st || st === s.status);
          }
          function cell(tr, cls, text) { tr.querySelector('.' + cls).textContent = text; }
          function newRow(id) {
            var tr = document.createElement('tr');
            tr.dataset.id = id;
            ['id', 'state', 'host', 'error', 'updated', 'in', 'out', 'pairing', 'actions'].forEach(function (c) {
              var td = document.createElement('td'); td.className = c; tr.appendChild(td);
            });
            tr.firstChild.textContent = id;
            ['start', 'stop', 'restart'].forEach(function (a) {
              var b = document.createElement('button'); b.dataset.action = a; b.textContent = a; tr.lastChild.appendChild(b);
            });
            tbody.appendChild(tr);
            return tr;
          }
          function onStatus(s) {
            var tr = row(s.business_id);
            if (!tr) {
              var p = new URLSearchParams(location.search);
              if (!filterMatches(s) || tbody.rows.length >= (parseInt(p.get('size'), 10) || 50)) return;
              tr = newRow(s.business_id);
            }
            tr.className = s.status;
            cell(tr, 'state', s.status); cell(tr, 'host', s.host || ''); cell(tr, 'error', s.error || ''); cell(tr, 'updated', s.updated_at);
          }
          function onPairing(p) {
            var tr = row(p.business_id);
            if (!tr) return;
            var td = tr.querySelector('.pairing');
            td.textContent = '';
            if (p.qr_code || p.pairing_code) {
              var c = document.createElement('code'); c.className = 'qr'; c.textContent = p.qr_code || p.pairing_code; td.appendChild(c);
            }
          }
          tbody.addEventListener('click', function (e) {
            var b = e.target.closest('button[data-action]');
            if (!b) return;
            var id = b.closest('tr').dataset.id;
            b.disabled = true;
            fetch(base + '/tenants/' + encodeURIComponent(id) + '/' + b.dataset.action, { method: 'POST', headers: csrf, credentials: 'same-origin' })
              .then(function (r) {
                if (r.status === 401) { location.reload(); return; } // signed out (the key was revoked): back to the sign-in form
                if (!r.ok) { return r.json().then(function (p) { alert(p.detail || r.statusText); }); }
              })
              .finally(function () { b.disabled = false; });
          });
          function onTraffic(t) {
            var h = document.querySelector('#hosts tr[data-host="' + CSS.escape(t.host) + '"]');
            if (h) {
              [['tenants', 'tenants'], ['connected', 'connected'], ['error', 'error'], ['queue', 'queue_depth'], ['in', 'messages_in'], ['out', 'messages_out']]
                .forEach(function (c) { if (t[c[1]] !== undefined) cell(h, c[0], String(t[c[1]])); });
            }
            t.rows.forEach(function (r) {
              var tr = row(r.business_id);
              if (tr) { cell(tr, 'in', String(r.messages_in)); cell(tr, 'out', String(r.messages_out)); }
            });
          }
          var ids = Array.prototype.map.call(tbody.rows, function (tr) { return tr.dataset.id; }).join(',');
          var source = new EventSource(base + '/events' + (ids ? '?ids=' + encodeURIComponent(ids) : ''));
          source.addEventListener('open', function () { live.textContent = 'live'; });
          source.addEventListener('error', function () { live.textContent = 'reconnecting…'; });
          source.addEventListener('status', function (e) { onStatus(JSON.parse(e.data)); });
          source.addEventListener('pairing', function (e) { onPairing(JSON.parse(e.data)); });
          source.addEventListener('traffic', function (e) { onTraffic(JSON.parse(e.data)); });
        })();
        """;
}
