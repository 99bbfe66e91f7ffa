// Swagger UI on /docs/, configured by the server through the page's data-config attribute
// (the Content-Security-Policy allows no inline script).
window.addEventListener("load", function () {
  var container = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle(JSON.parse(container.dataset.config));
});
