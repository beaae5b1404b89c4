// Review forms: post the fields as JSON to the form's API endpoint, reload on success, show errors.
// The session's CSRF token goes in a header, not the body: the API's request models forbid extra fields.
"use strict";
document.querySelectorAll("form.api-form").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var out = form.querySelector(".form-error");
    out.textContent = "";
    var body = {};
    var headers = { "Content-Type": "application/json" };
    new FormData(form).forEach(function (value, key) {
      if (key === "csrf_token") { headers["X-CSRF-Token"] = value; } else { body[key] = value; }
    });
    fetch(form.dataset.endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: JSON.stringify(body),
    })
      .then(function (response) {
        if (response.ok) { window.location.reload(); return null; }
        return response.json().then(function (data) { out.textContent = data.error || response.statusText; });
      })
      .catch(function (err) { out.textContent = String(err); });
  });
});
