// Live status of a run page: follows the run's server-sent events; on a new status it sets the
// badge at once, then re-fetches this page and swaps in its <main> (the same server rendering:
// times, histogram, error, timeline), in order, without reloading. Closes on a terminal status.
(() => {
  const main = document.getElementById("page");
  const url = main && main.dataset.events;
  if (!url || !window.EventSource) return;
  const source = new EventSource(url);
  let swaps = Promise.resolve();
  const refresh = async () => {
    const response = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("page");
    if (fresh) main.replaceChildren(...fresh.childNodes);
  };
  source.addEventListener("status", (event) => {
    const run = JSON.parse(event.data);
    if (["completed", "failed", "cancelled"].includes(run.status)) source.close();
    const badge = document.getElementById("status");
    if (!badge || badge.textContent === run.status) return;
    badge.textContent = run.status;
    badge.className = "badge s-" + run.status;
    swaps = swaps.then(refresh, refresh);
  });
})();
