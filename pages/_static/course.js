/* Accessible names that match what readers see (axe-core: label-content-name-mismatch).
   myst-nb labels every "Show the solution" toggle "Toggle hidden content", so a reader who
   speaks the visible words to voice-control software cannot press it; without the label the
   toggle is named by its visible text. */
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("details > summary[aria-label='Toggle hidden content']")
    .forEach((summary) => summary.removeAttribute("aria-label"));
});
