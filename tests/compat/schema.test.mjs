// GET /api/v3/schema/ is a valid OpenAPI 3 document (checked by a maintained validator), in
// YAML by default and JSON with ?format=json, and describes what tokend serves.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import SwaggerParser from "@apidevtools/swagger-parser";
import yaml from "js-yaml";
import { startTokend } from "./tokend.mjs";

let t;
before(async () => { t = await startTokend(); });
after(async () => { await t.stop(); });

test("the JSON document validates as OpenAPI 3 and lists every route", async () => {
  const res = await fetch(`${t.basePath}/schema/?format=json`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/vnd.oai.openapi+json");
  const doc = await res.json();
  const api = await SwaggerParser.validate(structuredClone(doc));
  assert.equal(api.openapi, "3.0.3");
  assert.equal(api.info.version, "2024.8.3");
  for (const p of ["/core/tokens/", "/core/tokens/{identifier}/", "/core/tokens/{identifier}/view_key/",
                   "/core/tokens/{identifier}/set_key/", "/core/tokens/{identifier}/used_by/",
                   "/core/users/", "/core/users/{id}/", "/core/users/me/", "/core/users/service_account/",
                   "/core/users/{id}/recovery/", "/core/users/{id}/used_by/", "/core/groups/",
                   "/core/groups/{group_uuid}/", "/core/groups/{group_uuid}/add_user/",
                   "/core/groups/{group_uuid}/remove_user/", "/core/groups/{group_uuid}/used_by/",
                   "/events/events/", "/schema/"]) {
    assert.ok(doc.paths[p], `missing path ${p}`);
  }
});

test("the YAML document is the default and the same document", async () => {
  const res = await fetch(`${t.basePath}/schema/`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/vnd.oai.openapi; charset=utf-8");
  const text = await res.text();
  assert.match(text, /^openapi: 3\.0\.3$/m);
  const fromYaml = yaml.load(text);
  const api = await SwaggerParser.validate(structuredClone(fromYaml));
  assert.ok(api.paths["/core/tokens/"]);
  const json = await (await fetch(`${t.basePath}/schema/?format=json`)).json();
  assert.deepEqual(fromYaml, json);
});
