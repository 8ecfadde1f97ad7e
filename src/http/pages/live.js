// Every page: each <time datetime> (rendered in UTC) is shown in the viewer's time zone, the UTC
// text kept in its title; again after every swap. Without this script the UTC text stays.
//
// Live pages. <main id="page"> says what to follow:
//   data-events="URL …"  runs' server-sent event streams: on a new status, the run's badges
//                        ([data-run]) change at once, then <main> is re-fetched and swapped in
//                        (the same server rendering), in order, without reloading; a `queue`
//                        event (a pending run's place moved) swaps <main> too;
//   data-refresh="S"     re-fetch and swap <main> every S seconds (numbers without a stream).
// After each swap the streams named by the fresh <main> are followed and the others closed;
// a stream closes itself on a terminal status. Without this script every page is complete.
(() => {
  const main = document.getElementById("page");
  if (!main) return;
  const localize = () => {
    for (const time of main.querySelectorAll("time[datetime]")) {
      if (time.dataset.local) continue;
      const at = new Date(time.getAttribute("datetime"));
      if (Number.isNaN(at.getTime())) continue;
      time.title = time.textContent;
      time.textContent = at.toLocaleString(undefined, {
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
        second: "2-digit", timeZoneName: "short",
      });
      time.dataset.local = "1";
    }
  };
  localize();
  const terminal = ["completed", "failed", "cancelled"];
  const streams = new Map();
  let swaps = Promise.resolve();
  const refresh = async () => {
    const response = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("page");
    if (!fresh) return;
    main.replaceChildren(...fresh.childNodes);
    localize();
    main.dataset.events = fresh.dataset.events || "";
    if ((fresh.dataset.refresh || "") !== (main.dataset.refresh || "")) {
      main.dataset.refresh = fresh.dataset.refresh || "";
      schedule();
    }
    follow();
  };
  const swap = () => { swaps = swaps.then(refresh, refresh); };
  const follow = () => {
    const urls = new Set((main.dataset.events || "").split(" ").filter(Boolean));
    for (const [url, source] of streams) {
      if (!urls.has(url)) { source.close(); streams.delete(url); }
    }
    if (!window.EventSource) return;
    for (const url of urls) {
      if (streams.has(url)) continue;
      const source = new EventSource(url);
      streams.set(url, source);
      source.addEventListener("status", (event) => {
        const run = JSON.parse(event.data);
        if (terminal.includes(run.status)) { source.close(); streams.delete(url); }
        let changed = false;
        for (const badge of document.querySelectorAll(`[data-run="${run.id}"]`)) {
          if (badge.textContent === run.status) continue;
          badge.textContent = run.status;
          badge.className = "badge s-" + run.status;
          changed = true;
        }
        if (changed) swap();
      });
      // A pending run's place in the queue moved: the page renders where it stands now.
      source.addEventListener("queue", swap);
    }
  };
  let timer = null;
  const schedule = () => {
    clearInterval(timer);
    const every = Number(main.dataset.refresh);
    timer = every > 0 ? setInterval(swap, every * 1000) : null;
  };
  follow();
  schedule();
})();
