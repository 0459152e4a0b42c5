// npm run client:generate: writes the typed client's types from the OpenAPI document.
import { writeFileSync } from "node:fs";
import { CLIENT_TYPES_FILE, clientTypes } from "./client-types.js";

writeFileSync(CLIENT_TYPES_FILE, await clientTypes());
console.log(`wrote ${CLIENT_TYPES_FILE}`);
