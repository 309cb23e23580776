// Live updates of the agents' screen: the server pushes the re-rendered
// panel over Server-Sent Events whenever the site's figures change.
(function () {
  "use strict";
  var panel = document.getElementById("panel");
  var live = document.getElementById("live");
  var url = panel && panel.getAttribute("data-events");
  if (!url || !window.EventSource) { return; }
  var source = new EventSource(url);
  source.addEventListener("panel", function (e) {
    panel.innerHTML = e.data;
    live.textContent = live.getAttribute("data-live");
    live.classList.remove("down");
  });
  source.onerror = function () {
    // EventSource reconnects by itself; say so meanwhile.
    live.textContent = live.getAttribute("data-reconnecting");
    live.classList.add("down");
  };
})();
