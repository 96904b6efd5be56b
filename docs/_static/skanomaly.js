// Long names in table cells (critic_hidden_layer_sizes, atypical_warmup_epochs) may break after an underscore,
// like a hyphenated word, instead of widening their column until the table needs a sideways scroll.
document.addEventListener("DOMContentLoaded", () => {
  for (const piece of document.querySelectorAll(".bd-article table td code span.pre")) {
    if (piece.children.length === 0 && piece.textContent.length > 12 && piece.textContent.includes("_")) {
      const parts = piece.textContent.split(/(?<=_)/);
      piece.replaceChildren(...parts.flatMap((part, i) => (i ? [document.createElement("wbr"), part] : [part])));
    }
  }
});
