// A small proxy-wasm ABI 0.2.1 host on Node's V8 (the engine Envoy uses by
// default), with node:wasi for the module's WASI imports. It loads the
// release module and drives request scenarios under host "profiles" that
// reproduce how Envoy, Kong, APISIX and Service Extensions differ
// (docs/deployment.md, "Deploy"). tests/hosts.rs writes the job to stdin and
// reads one JSON answer from stdout; it holds the expectations.
//
// What this host does on purpose:
// - every import edge-cors calls is implemented as the profile says;
// - every other import (std's WASI functions, which edge-cors never calls) traps when
//   called, and every call is recorded, so a filter that starts calling
//   timers, time, shared data or properties fails the test;
// - a trap anywhere is caught, reported with the callback it happened in,
//   and ends that VM (as a trapped VM is unusable in a real host too).
'use strict';

const fs = require('node:fs');
const { WASI } = require('node:wasi');
const { performance } = require('node:perf_hooks');

const OK = 0;
const NOT_FOUND = 1;
const UNIMPLEMENTED = 12; // proxy-wasm-cpp-host WasmResult::Unimplemented
const CAS_MISMATCH = 8;
const REQUEST_HEADERS = 0;
const RESPONSE_HEADERS = 2;
const PLUGIN_CONFIGURATION = 7;
const ROOT_ID = 1;

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: false });

class Trap extends Error {}

function lower(s) {
  return s.toLowerCase();
}

// One VM: a module instance plus the host state its imports see.
class Vm {
  constructor(module, profile) {
    this.profile = profile;
    this.calls = {}; // import name -> count
    this.logs = []; // [level, message]
    this.properties = {}; // what the module set (the access-log record)
    this.metrics = { defined: [], increments: 0 };
    this.maps = { [REQUEST_HEADERS]: [], [RESPONSE_HEADERS]: [] };
    this.localReply = null;
    this.nextMetric = 1;
    this.dead = null;
    this.tickPeriod = 0; // what the module asked for (live origins)
    this.shared = new Map(); // shared data: key -> [bytes, cas]
    this.nextCas = 1;

    const imports = {};
    for (const imp of WebAssembly.Module.imports(module)) {
      if (imp.kind !== 'function') continue;
      imports[imp.module] = imports[imp.module] || {};
    }
    // WASI: Node's implementation, wrapped so that every call is recorded.
    this.wasi = new WASI({ version: 'preview1', args: [], env: {}, returnOnExit: true });
    const wasi = this.wasi.wasiImport;
    const env = this.envImports();
    for (const imp of WebAssembly.Module.imports(module)) {
      if (imp.kind !== 'function') continue;
      const key = `${imp.module}.${imp.name}`;
      let f;
      if (imp.module === 'env' && env[imp.name]) {
        f = env[imp.name];
      } else if (imp.module === 'wasi_snapshot_preview1' && wasi[imp.name]) {
        f = wasi[imp.name];
      } else {
        // Declared for features edge-cors never uses here. Kong's
        // not-yet-implemented host functions trap the same way.
        f = () => {
          throw new Trap(`called ${key}, which edge-cors must never need`);
        };
      }
      imports[imp.module][imp.name] = (...args) => {
        this.calls[key] = (this.calls[key] || 0) + 1;
        return f(...args);
      };
    }
    this.instance = new WebAssembly.Instance(module, imports);
    this.ex = this.instance.exports;
  }

  mem() {
    return new Uint8Array(this.ex.memory.buffer);
  }
  view() {
    return new DataView(this.ex.memory.buffer);
  }
  str(ptr, len) {
    return dec.decode(this.mem().slice(ptr, ptr + len));
  }
  // Copies bytes into memory the module allocates, and returns the pointer.
  give(bytes, retPtr, retSize) {
    const ptr = bytes.length ? this.ex.proxy_on_memory_allocate(bytes.length) : 0;
    if (bytes.length) this.mem().set(bytes, ptr);
    this.view().setUint32(retPtr, ptr, true);
    this.view().setUint32(retSize, bytes.length, true);
    return OK;
  }

  // The map as the module sees it under this profile.
  visible(map) {
    let pairs = this.maps[map];
    if (map === REQUEST_HEADERS) {
      if (!this.profile.authority_in_pairs) pairs = pairs.filter(([n]) => n !== ':authority');
    }
    return pairs;
  }

  envImports() {
    const p = this.profile;
    return {
      proxy_log: (level, ptr, size) => {
        this.logs.push([level, this.str(ptr, size)]);
        return OK;
      },
      proxy_get_buffer_bytes: (type, start, max, retPtr, retSize) => {
        if (type !== PLUGIN_CONFIGURATION) return NOT_FOUND;
        // i32 on the wire: the SDK passes usize::MAX as "everything".
        const from = start >>> 0;
        const bytes = enc.encode(p.config).slice(from, from + (max >>> 0));
        if (!bytes.length) return NOT_FOUND;
        return this.give(bytes, retPtr, retSize);
      },
      proxy_get_header_map_pairs: (map, retPtr, retSize) => {
        const pairs = this.visible(map);
        const parts = pairs.map(([n, v]) => [enc.encode(n), enc.encode(v)]);
        let size = 4 + 8 * parts.length;
        for (const [n, v] of parts) size += n.length + v.length + 2;
        const buf = new Uint8Array(size);
        const dv = new DataView(buf.buffer);
        dv.setUint32(0, parts.length, true);
        let at = 4 + 8 * parts.length;
        parts.forEach(([n, v], i) => {
          dv.setUint32(4 + 8 * i, n.length, true);
          dv.setUint32(8 + 8 * i, v.length, true);
          buf.set(n, at);
          at += n.length + 1;
          buf.set(v, at);
          at += v.length + 1;
        });
        return this.give(buf, retPtr, retSize);
      },
      proxy_get_header_map_value: (map, kPtr, kSize, retPtr, retSize) => {
        // By name every pseudo-header is readable (APISIX included).
        const key = lower(this.str(kPtr, kSize));
        const hit = this.maps[map].find(([n]) => n === key);
        if (!hit) return NOT_FOUND;
        return this.give(enc.encode(hit[1]), retPtr, retSize);
      },
      proxy_set_property: (pPtr, pSize, vPtr, vSize) => {
        // The access-log record (Envoy: filter state wasm.edge_cors).
        const path = this.str(pPtr, pSize);
        if (path !== 'edge_cors') throw new Trap(`set property ${JSON.stringify(path)}`);
        this.properties[path] = this.str(vPtr, vSize);
        return p.set_property_status ?? OK;
      },
      proxy_get_property: (pPtr, pSize, retPtr, retSize) => {
        // Only the route name is ever asked for (rules with match.routes).
        // Profiles give it as `route_name`, or answer with a status (Service
        // Extensions: Unimplemented), or NotFound when they say nothing.
        const path = this.str(pPtr, pSize);
        if (path !== 'xds\u0000route_name') throw new Trap(`asked for property ${JSON.stringify(path)}`);
        if (typeof p.route_name === 'string') return this.give(enc.encode(p.route_name), retPtr, retSize);
        return p.route_name_status ?? NOT_FOUND;
      },
      proxy_replace_header_map_value: (map, kPtr, kSize, vPtr, vSize) => {
        const key = lower(this.str(kPtr, kSize));
        const value = this.str(vPtr, vSize);
        // Like Envoy: the first occurrence takes the value, the others go.
        const out = [];
        let placed = false;
        for (const [n, v] of this.maps[map]) {
          if (n !== key) out.push([n, v]);
          else if (!placed) {
            out.push([key, value]);
            placed = true;
          }
        }
        if (!placed) out.push([key, value]);
        this.maps[map] = out;
        return OK;
      },
      proxy_remove_header_map_value: (map, kPtr, kSize) => {
        const key = lower(this.str(kPtr, kSize));
        this.maps[map] = this.maps[map].filter(([n]) => n !== key);
        return OK;
      },
      proxy_send_local_response: (status, dPtr, dSize, bPtr, bSize, hPtr, hSize, grpc) => {
        const dv = this.view();
        const headers = [];
        if (hSize >= 4) {
          const count = dv.getUint32(hPtr, true);
          let at = hPtr + 4 + 8 * count;
          for (let i = 0; i < count; i++) {
            const nl = dv.getUint32(hPtr + 4 + 8 * i, true);
            const vl = dv.getUint32(hPtr + 8 + 8 * i, true);
            const n = this.str(at, nl);
            at += nl + 1;
            const v = this.str(at, vl);
            at += vl + 1;
            headers.push([lower(n), v]);
          }
        }
        this.localReply = { status, headers, body: this.str(bPtr, bSize) };
        return OK;
      },
      proxy_define_metric: (type, nPtr, nSize, retId) => {
        if (p.metrics === 'unimplemented') return UNIMPLEMENTED;
        this.metrics.defined.push(this.str(nPtr, nSize));
        if (p.metrics === 'stub') return OK; // APISIX-style: Ok, no id written
        this.view().setUint32(retId, this.nextMetric++, true);
        return OK;
      },
      proxy_increment_metric: (id, offset) => {
        if (p.metrics === 'unimplemented' || p.metrics === 'increment-fails') return UNIMPLEMENTED;
        this.metrics.increments += 1;
        return OK;
      },
      // Timers and shared data: what live origins (allow_origins_from)
      // need. Service Extensions and APISIX have neither (Unimplemented).
      proxy_set_tick_period_milliseconds: (ms) => {
        if (p.timers === 'unimplemented') return UNIMPLEMENTED;
        this.tickPeriod = ms;
        return OK;
      },
      proxy_get_shared_data: (kPtr, kSize, retPtr, retSize, retCas) => {
        if (p.shared_data === 'unimplemented') return UNIMPLEMENTED;
        const hit = this.shared.get(this.str(kPtr, kSize));
        if (!hit) return NOT_FOUND;
        this.view().setUint32(retCas, hit[1], true);
        return this.give(hit[0], retPtr, retSize);
      },
      proxy_set_shared_data: (kPtr, kSize, vPtr, vSize, cas) => {
        if (p.shared_data === 'unimplemented') return UNIMPLEMENTED;
        const key = this.str(kPtr, kSize);
        const hit = this.shared.get(key);
        if (hit && cas !== 0 && cas !== hit[1]) return CAS_MISMATCH;
        this.shared.set(key, [this.mem().slice(vPtr, vPtr + vSize), this.nextCas++]);
        return OK;
      },
      proxy_record_metric: (id, value) => {
        // Gauges (live origins' count and age).
        if (p.metrics === 'unimplemented' || p.metrics === 'increment-fails') return UNIMPLEMENTED;
        this.metrics.records = (this.metrics.records || 0) + 1;
        return OK;
      },
      proxy_get_current_time_nanoseconds: (retPtr) => {
        if (p.time === 'unimplemented') return UNIMPLEMENTED;
        this.view().setBigUint64(retPtr, 1700000000000000000n, true);
        return OK;
      },
    };
  }

  // Runs one export; a trap kills the VM and is reported.
  call(what, fn, ...args) {
    if (this.dead) return undefined;
    try {
      return fn(...args);
    } catch (e) {
      this.dead = `${what}: ${e instanceof Trap ? e.message : `${e.constructor.name}: ${e.message}`}`;
      return undefined;
    }
  }

  start() {
    this.call('_initialize', () => this.wasi.initialize(this.instance));
    this.call('proxy_on_context_create(root)', this.ex.proxy_on_context_create, ROOT_ID, 0);
    this.call('proxy_on_vm_start', this.ex.proxy_on_vm_start, ROOT_ID, 0);
    const t0 = performance.now();
    const ok = this.call('proxy_on_configure', this.ex.proxy_on_configure, ROOT_ID, enc.encode(this.profile.config).length);
    this.configureMs = performance.now() - t0;
    this.configured = ok === 1;
    return this.configured;
  }

  // One request through the filter; returns what the client would get.
  request(id, sc, timing) {
    const p = this.profile;
    this.localReply = null;
    const req = [
      [':authority', sc.authority],
      [':path', sc.path],
      [':method', sc.method],
      [':scheme', 'http'],
      ...sc.headers.map(([n, v]) => [lower(n), v]),
    ];
    // nginx keeps an HTTP/1.1 Host header in its list; Envoy turns it into
    // :authority.
    if (p.host_header) req.push(['host', sc.authority]);
    this.maps[REQUEST_HEADERS] = req;
    this.maps[RESPONSE_HEADERS] = [];
    this.call('proxy_on_context_create', this.ex.proxy_on_context_create, id, ROOT_ID);
    const count = (n) => (p.header_count === 'zero' ? 0 : n);
    let t0 = performance.now();
    const action = this.call('proxy_on_request_headers', this.ex.proxy_on_request_headers, id, count(this.visible(REQUEST_HEADERS).length), 1);
    if (timing) timing.request.push(performance.now() - t0);
    let out;
    if (this.localReply) {
      const lr = this.localReply;
      this.maps[RESPONSE_HEADERS] = [[':status', String(lr.status)], ...lr.headers];
      if (p.local_reply_callback) {
        this.call('proxy_on_response_headers', this.ex.proxy_on_response_headers, id, count(this.maps[RESPONSE_HEADERS].length), 0);
      }
      out = { status: lr.status, body: lr.body, local: true };
    } else {
      this.maps[RESPONSE_HEADERS] = [[':status', String(sc.response.status)], ...sc.response.headers.map(([n, v]) => [lower(n), v])];
      t0 = performance.now();
      this.call('proxy_on_response_headers', this.ex.proxy_on_response_headers, id, count(this.maps[RESPONSE_HEADERS].length), 0);
      if (timing) timing.response.push(performance.now() - t0);
      out = { status: sc.response.status, body: sc.response.body || '', local: false };
    }
    this.call('proxy_on_log', this.ex.proxy_on_log, id);
    this.call('proxy_on_done', this.ex.proxy_on_done, id);
    this.call('proxy_on_delete', this.ex.proxy_on_delete, id);
    out.action = action;
    out.headers = this.maps[RESPONSE_HEADERS].filter(([n]) => n !== ':status');
    out.trap = this.dead;
    return out;
  }
}

function runProfile(module, profile, scenarios) {
  const vm = new Vm(module, profile);
  const configured = vm.start();
  const results = {};
  // A host that serves requests even though configuration failed (APISIX
  // configures lazily) must still get untouched, untrapped answers.
  if (configured || profile.serve_after_failed_configure) {
    let id = 2;
    for (const sc of scenarios) results[sc.name] = vm.request(id++, sc, null);
  }
  return {
    name: profile.name,
    configured,
    tick_period: vm.tickPeriod,
    trap: vm.dead,
    calls: vm.calls,
    logs: vm.logs,
    metrics: vm.metrics,
    memory_bytes: vm.ex.memory.buffer.byteLength,
    results,
  };
}

function percentile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

// The cost of a large policy: linear memory and time per callback.
function bench(module, b) {
  const vm = new Vm(module, b.profile);
  const configured = vm.start();
  const coldConfigureMs = vm.configureMs;
  // Once more, as on a configuration update: the code is compiled by now.
  const t0 = performance.now();
  vm.call('proxy_on_configure (again)', vm.ex.proxy_on_configure, ROOT_ID, enc.encode(b.profile.config).length);
  const warmConfigureMs = performance.now() - t0;
  const memoryAfterConfigure = vm.ex.memory.buffer.byteLength;
  // The first requests run while V8 still compiles and tiers up the code.
  const first = { request: [], response: [] };
  let id = 2;
  for (const sc of b.scenarios) vm.request(id++, sc, first);
  const timing = { request: [], response: [] };
  for (let i = 0; i < b.iterations; i++) {
    for (const sc of b.scenarios) vm.request(id++, sc, timing);
  }
  const stat = (xs) => ({
    count: xs.length,
    median_us: percentile(xs, 0.5) * 1000,
    p99_us: percentile(xs, 0.99) * 1000,
    max_us: Math.max(...xs) * 1000,
  });
  return {
    configured,
    trap: vm.dead,
    configure_ms: coldConfigureMs,
    configure_again_ms: warmConfigureMs,
    first_request_headers_us: Math.max(...first.request) * 1000,
    first_response_headers_us: Math.max(...first.response) * 1000,
    memory_after_configure: memoryAfterConfigure,
    memory_after_requests: vm.ex.memory.buffer.byteLength,
    request_headers: stat(timing.request),
    response_headers: stat(timing.response),
    calls: vm.calls,
  };
}

function main() {
  const job = JSON.parse(fs.readFileSync(0, 'utf8'));
  const module = new WebAssembly.Module(fs.readFileSync(job.wasm));
  const out = {
    imports: WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`),
    profiles: job.profiles.map((p) => runProfile(module, p, job.scenarios)),
  };
  if (job.bench) out.bench = bench(module, job.bench);
  process.stdout.write(JSON.stringify(out));
}

main();
