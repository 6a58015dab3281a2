document.getElementById("root").textContent = "hello from the single-page app";
