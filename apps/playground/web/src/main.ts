import { App } from "./app.js";

const root = document.getElementById("app");
if (!root) throw new Error("the page has no #app element");
void new App(root).start();
