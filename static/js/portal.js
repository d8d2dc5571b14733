/* Portal behaviour shared by every page. htmx sends the CSRF token from <body hx-headers>. */
document.addEventListener("htmx:responseError", function (event) {
  const status = event.detail.xhr.status;
  const box = document.createElement("div");
  box.className = "alert alert-danger";
  box.setAttribute("role", "alert");
  box.textContent = (document.documentElement.lang === "ja" ? "エラーが発生しました" : "Request failed") + " (" + status + ")";
  document.getElementById("main").prepend(box);
});
