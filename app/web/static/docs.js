// Starts whichever API viewer the page loaded (Swagger UI on /docs, ReDoc on /redoc) from a file, not an
// inline script, so the docs pages keep a content security policy without 'unsafe-inline' for scripts.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const swagger = document.getElementById("swagger-ui");
  const redoc = document.getElementById("redoc");
  if (swagger) {
    window.SwaggerUIBundle({
      url: swagger.dataset.openapiUrl,
      domNode: swagger,
      layout: "BaseLayout",
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      // The public validator is on the internet, which intranets cannot reach: never call it.
      validatorUrl: null,
      presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
    });
  } else if (redoc) {
    window.Redoc.init(redoc.dataset.openapiUrl, {}, redoc);
  }
});
