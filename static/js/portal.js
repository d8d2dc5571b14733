/* Portal behaviour shared by every page. htmx sends the CSRF token from <body hx-headers>. */
document.addEventListener("htmx:responseError", function (event) {
  const status = event.detail.xhr.status;
  const box = document.createElement("div");
  box.className = "alert alert-danger";
  box.setAttribute("role", "alert");
  box.textContent = (document.documentElement.lang === "ja" ? "エラーが発生しました" : "Request failed") + " (" + status + ")";
  document.getElementById("main").prepend(box);
});

/* A stakeholder update template fills the form it belongs to (comms/partials/_panel.html). */
document.addEventListener("change", function (event) {
  const select = event.target.closest("select[data-fills]");
  if (!select || !select.value) return;
  const option = select.selectedOptions[0];
  const form = select.form;
  form.querySelector("[name=status]").value = option.dataset.status;
  form.querySelector("[name=message_ja]").value = option.dataset.ja;
  form.querySelector("[name=message_en]").value = option.dataset.en;
});
