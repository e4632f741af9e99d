// The API documentation page: Swagger UI, served from the installed swagger-ui-bundle
// package (nothing is fetched from the internet), started without inline script.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
  });
});
