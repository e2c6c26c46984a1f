//! The OCI image (`make image`, deploy/oci_image.py) through a real registry:
//! Debian's docker-registry on 127.0.0.1, skopeo to push and pull, then the
//! checks Istio's and Envoy Gateway's fetchers make (a single manifest, the
//! last layer a gzip tar holding plugin.wasm, the compat annotation) and the
//! module's sha256. Two builds must give the same manifest digest, which is
//! what `sha256:` in a WasmPlugin or EnvoyExtensionPolicy cites.

use edge_cors_suites as common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const TAG: &str = "0.1.0";

fn sha256_hex(bytes: &[u8]) -> String {
    // No hashing crate in the tests: sha256sum is in coreutils.
    let dir = std::env::temp_dir().join(unique(&format!("sha-{}", std::process::id())));
    fs::write(&dir, bytes).unwrap();
    let out = Command::new("sha256sum").arg(&dir).output().unwrap();
    fs::remove_file(&dir).ok();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

fn need(tool: &str) {
    let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(found, "{tool} is missing: `make test` installs it (Debian's skopeo and docker-registry)");
}

fn build_image(out: &Path) -> String {
    let status = Command::new("python3")
        .arg(repo().join("deploy/oci_image.py"))
        .arg(wasm_path())
        .arg(out)
        .arg(TAG)
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(status.status.success(), "oci_image.py failed: {}", String::from_utf8_lossy(&status.stderr));
    String::from_utf8(status.stdout).unwrap().trim().to_string()
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let bytes = fs::read(layout.join("blobs/sha256").join(hex)).unwrap();
    assert_eq!(sha256_hex(&bytes), hex, "blob {digest} does not match its digest");
    bytes
}

/// A registry on loopback for this test only, killed when dropped.
struct Registry {
    child: Child,
    addr: String,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_registry(dir: &Path) -> Registry {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let config = dir.join("registry.yml");
    fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new("docker-registry");
    cmd.arg("serve").arg(&config).stdout(Stdio::null()).stderr(Stdio::from(fs::File::create(dir.join("registry.log")).unwrap()));
    // SAFETY: the closure runs in the forked child before exec and calls only
    // prctl, which is async-signal-safe; it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = cmd.spawn().expect("start docker-registry");
    let registry = Registry { child, addr };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if std::net::TcpStream::connect(&registry.addr).is_ok() {
            let r = get(&format!("http://{}/v2/", registry.addr), &[]);
            assert_eq!(r.status, 200, "docker-registry: {}", r.body);
            return registry;
        }
        assert!(
            Instant::now() < deadline,
            "docker-registry did not answer: {}",
            fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn skopeo(dir: &Path, args: &[&str]) -> Vec<u8> {
    // Our own trust policy: the test must not depend on /etc/containers.
    let policy = dir.join("policy.json");
    fs::write(&policy, r#"{"default": [{"type": "insecureAcceptAnything"}]}"#).unwrap();
    let out = Command::new("skopeo").arg("--policy").arg(&policy).args(args).output().expect("run skopeo");
    assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// plugin.wasm from a gzip tar, read with the system's tar (the format Istio's fetcher reads).
fn plugin_wasm(layer: &[u8], dir: &Path) -> Vec<u8> {
    let tgz = dir.join("layer.tar.gz");
    fs::write(&tgz, layer).unwrap();
    let list = Command::new("tar").arg("-tzvf").arg(&tgz).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    assert_eq!(list.lines().count(), 1, "the layer must hold plugin.wasm alone:\n{list}");
    assert!(list.trim_end().ends_with(" plugin.wasm"), "{list}");
    assert!(list.starts_with("-rw-r--r-- 0/0"), "root-owned, mode 0644: {list}");
    let out = Command::new("tar").arg("-xzOf").arg(&tgz).arg("plugin.wasm").output().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// The layout's single manifest, checked as Istio and Envoy Gateway read it.
fn check_layout(layout: &Path, dir: &Path) -> (String, Vec<u8>) {
    let index = json(&layout.join("index.json"));
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1, "one manifest, not a list: {index}");
    let digest = manifests[0]["digest"].as_str().unwrap().to_string();
    assert_eq!(manifests[0]["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    let manifest: Value = serde_json::from_slice(&blob(layout, &digest)).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(manifest["annotations"]["module.wasm.image/variant"], "compat", "{manifest}");
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.oci.image.config.v1+json");
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(layers[0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
    let layer = blob(layout, layers[0]["digest"].as_str().unwrap());
    assert_eq!(layer.len() as u64, layers[0]["size"].as_u64().unwrap());
    let config: Value = serde_json::from_slice(&blob(layout, manifest["config"]["digest"].as_str().unwrap())).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
    (digest, plugin_wasm(&layer, dir))
}

#[test]
fn image_round_trip_through_a_local_registry() {
    need("skopeo");
    need("docker-registry");
    let dir: PathBuf = repo().join("target/image-tests").join(unique(&format!("{}", std::process::id())));
    fs::create_dir_all(&dir).unwrap();
    let module = fs::read(wasm_path()).unwrap();
    let module_sha = sha256_hex(&module);

    // Reproducible: two builds, one digest.
    let (a, b) = (dir.join("a"), dir.join("b"));
    let digest = build_image(&a);
    assert_eq!(build_image(&b), digest, "two builds of the same module gave different images");
    let (local_digest, wasm) = check_layout(&a, &dir);
    assert_eq!(local_digest, digest);
    assert_eq!(sha256_hex(&wasm), module_sha, "plugin.wasm in the layer is not the built module");

    // Push, read back the registry's manifest digest, pull, compare.
    let registry = start_registry(&dir);
    let image = format!("docker://{}/edge-cors:{TAG}", registry.addr);
    skopeo(&dir, &["copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false", &format!("oci:{}:{TAG}", a.display()), &image]);
    let raw = skopeo(&dir, &["inspect", "--raw", "--tls-verify=false", &image]);
    let remote_digest = format!("sha256:{}", sha256_hex(&raw));
    assert_eq!(remote_digest, digest, "the registry holds a different manifest than the one built");
    let inspect: Value = serde_json::from_slice(&skopeo(&dir, &["inspect", "--tls-verify=false", &image])).unwrap();
    assert_eq!(inspect["Digest"], digest.as_str());

    let pulled = dir.join("pulled");
    skopeo(&dir, &["copy", "--quiet", "--src-tls-verify=false", &image, &format!("oci:{}:{TAG}", pulled.display())]);
    let (pulled_digest, pulled_wasm) = check_layout(&pulled, &dir);
    assert_eq!(pulled_digest, digest);
    assert_eq!(sha256_hex(&pulled_wasm), module_sha, "plugin.wasm pulled back differs from the built module");
    drop(registry);

    // The digest a WasmPlugin or EnvoyExtensionPolicy cites (without "sha256:").
    println!("\nimage round trip through docker-registry on {}: ok", image.trim_start_matches("docker://"));
    println!("  manifest digest: {digest}");
    println!("  plugin.wasm sha256: {module_sha} ({} bytes)", module.len());
    fs::remove_dir_all(&dir).ok();
}
