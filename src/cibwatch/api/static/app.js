// Review forms: post the fields as JSON to the form's API endpoint, reload on success, show errors.
"use strict";
document.querySelectorAll("form.api-form").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var out = form.querySelector(".form-error");
    out.textContent = "";
    var body = {};
    new FormData(form).forEach(function (value, key) { body[key] = value; });
    fetch(form.dataset.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    })
      .then(function (response) {
        if (response.ok) { window.location.reload(); return null; }
        return response.json().then(function (data) { out.textContent = data.error || response.statusText; });
      })
      .catch(function (err) { out.textContent = String(err); });
  });
});
