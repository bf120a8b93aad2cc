// Sends the guestbook form as JSON, as the API expects, then reloads the
// page to show the new entry. Without JavaScript the page still shows who
// served it; only signing needs this.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("guestbook");
  const error = document.getElementById("guestbook-error");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const body = JSON.stringify({
      name: form.elements.name.value,
      message: form.elements.message.value,
    });
    try {
      const resp = await fetch("/api/guestbook", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body,
      });
      if (!resp.ok) {
        const data = await resp.json().catch(() => ({}));
        error.textContent = data.error || "The entry could not be saved (" + resp.status + ").";
        return;
      }
      window.location.reload();
    } catch (e) {
      error.textContent = "The entry could not be sent: " + e.message;
    }
  });
});
