"""The counter page: plain HTML, CSS and a little JavaScript served by the app (no build step, no CDN)."""
