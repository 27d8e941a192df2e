#!/usr/bin/env python3
"""Writes a multi-layer OCI image archive for benchmarks.

usage: mkimage.py OUT TAG LAYERS MB_PER_LAYER SEED [SHARED]
Layers 1..SHARED are generated from a fixed seed, so two images made with the same SHARED share those layers
byte for byte; the remaining layers come from SEED.  Layers are gzip-compressed tars of many small files plus a
few large ones, which is what real images look like to an unpacker.
"""
import gzip, hashlib, io, json, random, sys, tarfile

def layer(seed, index, mb):
    rnd = random.Random(f"{seed}-{index}")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        total, n = 0, 0
        budget = mb * 1024 * 1024
        while total < budget:
            size = rnd.choice([200, 1500, 4096, 20000, 300000])
            d = f"layer{index}/dir{n // 50}"
            info = tarfile.TarInfo(f"{d}/file{n}")
            info.size, info.mtime, info.mode = size, 1700000000, 0o644
            # half-compressible content, like binaries and text mixed
            data = rnd.randbytes(size // 2) + bytes(size - size // 2)
            tar.addfile(info, io.BytesIO(data))
            total += size
            n += 1
    raw = buf.getvalue()
    gz = gzip.compress(raw, compresslevel=6, mtime=0)
    return raw, gz

def main():
    out, tag, nlayers, mb, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    shared = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    blobs, layers, diff_ids = {}, [], []
    for i in range(nlayers):
        raw, gz = layer("shared" if i < shared else seed, i, mb)
        d = hashlib.sha256(gz).hexdigest()
        blobs[d] = gz
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + d, "size": len(gz)})
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                         "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cd = hashlib.sha256(config).hexdigest(); blobs[cd] = config
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd, "size": len(config)},
                           "layers": layers}).encode()
    md = hashlib.sha256(manifest).hexdigest(); blobs[md] = manifest
    index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": "sha256:" + md, "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": tag}}]}).encode()
    with tarfile.open(out, "w") as tar:
        def add(name, data):
            info = tarfile.TarInfo(name); info.size = len(data); info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", index)
        for d, data in blobs.items():
            add(f"blobs/sha256/{d}", data)

if __name__ == "__main__":
    main()
