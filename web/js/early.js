// Loaded first by index.html, before the stylesheets and the modules, as a classic script (the
// Content-Security-Policy allows no inline script): ask for the configuration at once (it
// decides what the app loads next). The public report layer does not depend on the map's view:
// ask for it now too, for the first layer on the map (a signed-in session asks again, with its
// token). app.js and layers.js take these answers, or ask themselves when they are missing.

window.__lagesbildConfig = fetch('/api/v1/config', { headers: { Accept: 'application/json' } });
if (!sessionStorage.getItem('lagesbild.token')) {
  window.__lagesbildReports = fetch('/open311/v2/requests.json?extensions=true', { headers: { Accept: 'application/json' } });
}
