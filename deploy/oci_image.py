#!/usr/bin/env python3
"""Packs the release module into an OCI image layout that Istio and Envoy
Gateway load (the "compat" variant of the Wasm image spec: one gzip-tar
layer holding plugin.wasm, the annotation module.wasm.image/variant=compat
on a single manifest). Reproducible: fixed file metadata, fixed gzip header,
canonical JSON, and a creation time of SOURCE_DATE_EPOCH (default 0), so
the same module and tag always give the same manifest digest.

    deploy/oci_image.py MODULE OUT_DIR TAG     # prints the manifest digest

Push it without a Docker daemon, e.g. with skopeo:

    skopeo copy oci:OUT_DIR:TAG docker://registry.example.com/edge-cors:TAG
"""

import datetime
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile

LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def created_epoch():
    # The Unix epoch unless SOURCE_DATE_EPOCH says otherwise: the digest then
    # depends on the module and the tag only, not on when or where it was built.
    return int(os.environ.get("SOURCE_DATE_EPOCH") or 0)


def layer_tar(wasm, mtime):
    """plugin.wasm alone, owned by root, mode 0644, fixed time: the same bytes every time."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("plugin.wasm")
        info.size = len(wasm)
        info.mtime = mtime
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(wasm))
    return buf.getvalue()


def gzipped(data):
    buf = io.BytesIO()
    # mtime=0 and no file name in the gzip header.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def build(module_path, out_dir, tag):
    with open(module_path, "rb") as f:
        wasm = f.read()
    epoch = created_epoch()
    created = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    tar = layer_tar(wasm, epoch)
    layer = gzipped(tar)
    config = canonical({
        "architecture": "wasm",
        "os": "wasip1",
        "created": created,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
    })
    blobs = {}

    def blob(data, media_type, annotations=None):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        d = {"mediaType": media_type, "digest": digest, "size": len(data)}
        if annotations:
            d["annotations"] = annotations
        return d

    manifest = canonical({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": blob(config, CONFIG),
        "layers": [blob(layer, LAYER, {"org.opencontainers.image.title": "plugin.wasm"})],
        "annotations": {
            # What Istio's and Envoy Gateway's fetchers look for (solo-io/wasm spec, compat variant).
            "module.wasm.image/variant": "compat",
            "org.opencontainers.image.created": created,
            "org.opencontainers.image.title": "edge-cors",
            "org.opencontainers.image.version": tag,
        },
    })
    manifest_desc = blob(manifest, MANIFEST, {"org.opencontainers.image.ref.name": tag})

    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(os.path.join(out_dir, "blobs", "sha256"))
    for digest, data in blobs.items():
        with open(os.path.join(out_dir, "blobs", "sha256", digest.split(":", 1)[1]), "wb") as f:
            f.write(data)
    with open(os.path.join(out_dir, "oci-layout"), "wb") as f:
        f.write(canonical({"imageLayoutVersion": "1.0.0"}))
    with open(os.path.join(out_dir, "index.json"), "wb") as f:
        f.write(canonical({"schemaVersion": 2, "mediaType": INDEX, "manifests": [manifest_desc]}))
    return manifest_desc["digest"]


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    print(build(sys.argv[1], sys.argv[2], sys.argv[3]))
