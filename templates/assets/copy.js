// "Copy URL" buttons on the feed list: put the feed's address on the clipboard. Without
// JavaScript the address is still shown, ready to select.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const url = button.dataset.url;
  try {
    await navigator.clipboard.writeText(url);
  } catch {
    const field = button.parentElement.querySelector("input.url");
    field.select();
    document.execCommand("copy");
  }
  const label = button.textContent;
  button.textContent = button.dataset.copied || "Copied";
  setTimeout(() => { button.textContent = label; }, 1500);
});

// The filter box (shown past twenty feeds): hide the feeds whose name does not contain
// what is typed, ignoring case. Without JavaScript every feed stays listed.
document.addEventListener("input", (event) => {
  if (event.target.id !== "feed-filter") return;
  const wanted = event.target.value.trim().toLowerCase();
  for (const row of document.querySelectorAll("li.feed")) {
    const name = row.querySelector(".name").textContent.toLowerCase();
    row.hidden = wanted !== "" && !name.includes(wanted);
  }
});
