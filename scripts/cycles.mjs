#!/usr/bin/env node
// Fails when the files of a crate import each other in a cycle.
//
// Each source file is a module (`src/lib.rs` is the crate root,
// `src/a/mod.rs` and `src/a.rs` are `a`, `src/a/b.rs` is `a::b`). A file
// depends on another when it names it: a `use` (globs and re-exports too)
// or a path in the code (`crate::store::Store`, `super::paging`,
// `views::credits`). A name resolves to the deepest module it reaches, so
// `crate::store::Store` depends on `store/mod.rs`, where `Store` is
// re-exported. Declaring a child (`mod usage;`) is not a use. References
// inside `#[cfg(test)]` modules are left out: tests may reach anywhere.
//
//   node scripts/cycles.mjs app/src server/src
//
// Prints every cycle with the line that closes each edge.

import fs from "node:fs";
import path from "node:path";

const roots = process.argv.slice(2);
if (roots.length === 0) {
  console.error("usage: cycles.mjs <crate src dir>...");
  process.exit(2);
}

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.name.endsWith(".rs") ? [p] : [];
  });
}

// Blanks comments, strings and chars, keeping line breaks (for line numbers).
function strip(src) {
  let out = "";
  let i = 0;
  const n = src.length;
  const blank = (s) => s.replace(/[^\n]/g, " ");
  while (i < n) {
    const c = src[i];
    const d = src[i + 1];
    if (c === "/" && d === "/") {
      const j = src.indexOf("\n", i);
      const end = j < 0 ? n : j;
      out += blank(src.slice(i, end));
      i = end;
    } else if (c === "/" && d === "*") {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (src[j] === "/" && src[j + 1] === "*") (depth++, (j += 2));
        else if (src[j] === "*" && src[j + 1] === "/") (depth--, (j += 2));
        else j++;
      }
      out += blank(src.slice(i, j));
      i = j;
    } else if (c === "r" && /^r#*"/.test(src.slice(i, i + 10)) && !/[A-Za-z0-9_]/.test(src[i - 1] ?? "")) {
      const hashes = src.slice(i + 1).match(/^#*/)[0];
      const close = '"' + hashes;
      const start = i + 2 + hashes.length;
      const j = src.indexOf(close, start);
      const end = j < 0 ? n : j + close.length;
      out += blank(src.slice(i, end));
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      while (j < n && src[j] !== '"') j += src[j] === "\\" ? 2 : 1;
      out += blank(src.slice(i, j + 1));
      i = j + 1;
    } else if (c === "'" && /^'(\\.|[^\\'])'/.test(src.slice(i, i + 4))) {
      const m = src.slice(i).match(/^'(\\[^']*|[^\\'])'/);
      const len = m ? m[0].length : 1;
      out += blank(src.slice(i, i + len));
      i += len;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

// The index just past the `}` that closes the block opened before `from`.
function blockEnd(src, from) {
  let depth = 1;
  let j = from;
  while (j < src.length && depth > 0) {
    if (src[j] === "{") depth++;
    else if (src[j] === "}") depth--;
    j++;
  }
  return j;
}

// Blanks the bodies of `#[cfg(test)] mod x { ... }`.
function dropTestModules(src) {
  const re = /#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{/g;
  let m;
  let out = src;
  while ((m = re.exec(src))) {
    const j = blockEnd(src, m.index + m[0].length);
    out = out.slice(0, m.index) + out.slice(m.index, j).replace(/[^\n]/g, " ") + out.slice(j);
  }
  return out;
}

// Expands a use tree (`a::{b, c::{d, e}}`) into paths.
function expand(tree) {
  tree = tree.replace(/\s+/g, "");
  const brace = tree.indexOf("{");
  if (brace < 0) return [tree.replace(/\bas\w+$/, "")];
  const head = tree.slice(0, brace);
  const inner = tree.slice(brace + 1, tree.lastIndexOf("}"));
  const parts = [];
  let depth = 0;
  let cur = "";
  for (const ch of inner) {
    if (ch === "{") depth++;
    if (ch === "}") depth--;
    if (ch === "," && depth === 0) (parts.push(cur), (cur = ""));
    else cur += ch;
  }
  if (cur) parts.push(cur);
  return parts.flatMap((p) => expand(p).map((q) => (q === "self" ? head.replace(/::$/, "") : head + q)));
}

let failed = false;
for (const root of roots) {
  const files = walk(root);
  // module path ("" is the crate root) -> file
  const modules = new Map();
  for (const f of files) {
    const rel = path.relative(root, f).replace(/\\/g, "/");
    if (rel === "main.rs" && files.some((g) => g.endsWith("/lib.rs"))) continue; // a binary of its own
    let m = rel.replace(/\.rs$/, "").replace(/(^|\/)mod$/, "").replace(/^lib$|^main$/, "");
    modules.set(m.split("/").filter(Boolean).join("::"), f);
  }
  const isModule = (m) => modules.has(m) || inline.has(m);
  const parentOf = (m) => m.split("::").slice(0, -1).join("::");
  const join = (a, b) => (a ? `${a}::${b}` : b);

  // Resolves a path named in module `at` to the deepest module it reaches.
  function resolve(at, p) {
    const segs = p.split("::").filter(Boolean);
    let base;
    let i = 0;
    if (segs[0] === "crate") (base = ""), (i = 1);
    else if (segs[0] === "self") (base = at), (i = 1);
    else if (segs[0] === "super") {
      base = at;
      while (segs[i] === "super") (base = parentOf(base)), i++;
    } else if (isModule(join(at, segs[0]))) base = at;
    else return null; // another crate, or a name in scope
    let target = base;
    for (; i < segs.length; i++) {
      const next = join(target, segs[i]);
      if (!isModule(next)) break;
      target = next;
    }
    return target;
  }

  // Inline modules (`mod browser { ... }`) belong to their file: a name
  // inside one resolves from there, and reaching one is reaching the file.
  const inline = new Map(); // inline module path -> file's module
  const texts = new Map(); // module -> { raw, src, blocks: [{ start, end, path }] }
  for (const [mod, file] of modules) {
    const raw = fs.readFileSync(file, "utf8");
    const src = dropTestModules(strip(raw));
    const blocks = [];
    const re = /(?<![A-Za-z0-9_])mod\s+([a-z_][a-z0-9_]*)\s*\{/g;
    let m;
    while ((m = re.exec(src))) {
      const j = blockEnd(src, m.index + m[0].length);
      const outer = blocks.filter((b) => b.start < m.index && m.index < b.end).pop();
      const p = join(outer ? outer.path : mod, m[1]);
      blocks.push({ start: m.index, end: j, path: p });
      inline.set(p, mod);
    }
    texts.set(mod, { raw, src, blocks });
  }
  const fileModule = (m) => {
    while (m && !modules.has(m)) m = inline.has(m) ? inline.get(m) : parentOf(m);
    return m;
  };

  const edges = new Map(); // module -> Map(target -> "file:line: text")
  for (const [mod, file] of modules) {
    const { raw, src, blocks } = texts.get(mod);
    const lines = raw.split("\n");
    const lineOf = (idx) => src.slice(0, idx).split("\n").length;
    const scopeAt = (idx) => {
      const b = blocks.filter((b) => b.start < idx && idx < b.end).pop();
      return b ? b.path : mod;
    };
    const out = new Map();
    const add = (target, idx) => {
      if (target === null) return;
      target = fileModule(target);
      if (target === mod) return;
      if (!out.has(target)) {
        const ln = lineOf(idx);
        out.set(target, `${file}:${ln}: ${lines[ln - 1].trim()}`);
      }
    };
    const useRe = /\buse\s+([^;]+);/g;
    let m;
    while ((m = useRe.exec(src))) {
      const at = scopeAt(m.index);
      for (const p of expand(m[1])) add(resolve(at, p.replace(/::\*$/, "")), m.index);
    }
    const pathRe = /(?<![A-Za-z0-9_:])([a-z_][a-z0-9_]*)((?:::[A-Za-z_][A-Za-z0-9_]*)+)/g;
    const noUse = src.replace(/\buse\s+[^;]+;/g, (s) => s.replace(/[^\n]/g, " "));
    while ((m = pathRe.exec(noUse))) {
      add(resolve(scopeAt(m.index), m[1] + m[2]), m.index);
    }
    edges.set(mod, out);
  }

  // Tarjan's strongly connected components.
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const sccs = [];
  function visit(v) {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!idx.has(w)) (visit(w), low.set(v, Math.min(low.get(v), low.get(w))));
      else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do (w = stack.pop()), on.delete(w), scc.push(w);
      while (w !== v);
      if (scc.length > 1) sccs.push(scc);
    }
  }
  for (const v of modules.keys()) if (!idx.has(v)) visit(v);

  const name = (m) => path.relative(process.cwd(), modules.get(m));
  if (sccs.length === 0) {
    console.log(`cycles: ${root}: none among ${modules.size} files`);
  }
  for (const scc of sccs) {
    failed = true;
    const set = new Set(scc);
    console.log(`cycles: ${root}: ${scc.map(name).sort().join(" <-> ")}`);
    for (const v of scc)
      for (const [w, why] of edges.get(v))
        if (set.has(w)) console.log(`    ${name(v)} -> ${name(w)}  (${path.relative(process.cwd(), why)})`);
  }
}
process.exit(failed ? 1 : 0);
