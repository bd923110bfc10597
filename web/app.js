// Placeholder of the console's entry module (the console's own replaces it).
import { greet } from "./lib/greet.js";

document.getElementById("app").textContent = greet("tokend");
