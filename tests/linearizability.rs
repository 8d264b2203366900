//! Linearizability on published data: every history of Porcupine's and Knossos' test data
//! (vendored under `tests/fixtures/{porcupine,knossos}`, sources in the READMEs there) gets the
//! verdict its authors published; and the `check` command on foreign histories (formats,
//! errors, `--json`), run as the real binary.

use cachecheck::checker::Verdict;
use cachecheck::formats::{self, Format};
use cachecheck::linearizability::foreign::{check_history, Options};
use cachecheck::linearizability::ModelKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The etcd logs Porcupine's tests call linearizable (`checkJepsen(t, N, true)`).
const ETCD_LINEARIZABLE: [u32; 23] = [
    2, 5, 7, 18, 25, 31, 38, 45, 48, 49, 51, 53, 56, 67, 75, 76, 80, 87, 92, 98, 100, 101, 102,
];

fn verdict(path: &Path, format: Format, model: ModelKind) -> Verdict {
    let h = formats::load(path, format).unwrap_or_else(|e| panic!("{e}"));
    let opts = Options::new(model, Some(Duration::from_secs(120)));
    check_history(&h, &opts).unwrap().verdict
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

#[test]
fn porcupine_kv_histories_get_their_published_verdicts() {
    let dir = fixtures().join("porcupine/kv");
    for (name, want) in [
        ("c01-ok", Verdict::Valid),
        ("c01-bad", Verdict::Invalid),
        ("c10-ok", Verdict::Valid),
        ("c10-bad", Verdict::Invalid),
        ("c50-ok", Verdict::Valid),
        ("c50-bad", Verdict::Invalid),
    ] {
        let path = dir.join(format!("{name}.txt"));
        assert_eq!(
            formats::detect(&path).unwrap(),
            Format::PorcupineKv,
            "{name}"
        );
        assert_eq!(
            verdict(&path, Format::PorcupineKv, ModelKind::Kv),
            want,
            "{name}"
        );
    }
}

#[test]
fn porcupine_etcd_logs_get_their_published_verdicts() {
    let dir = fixtures().join("porcupine/jepsen");
    let mut wrong = Vec::new();
    let mut linearizable = 0;
    for n in 0..=102u32 {
        let path = dir.join(format!("etcd_{n:03}.log"));
        if n == 95 {
            // Empty: Porcupine's tests skip it; cachecheck refuses it.
            let e = formats::load(&path, Format::JepsenLog).unwrap_err();
            assert!(e.to_string().contains("no 'jepsen.util"), "{e}");
            continue;
        }
        let want = if ETCD_LINEARIZABLE.contains(&n) {
            linearizable += 1;
            Verdict::Valid
        } else {
            Verdict::Invalid
        };
        assert_eq!(formats::detect(&path).unwrap(), Format::JepsenLog);
        let got = verdict(&path, Format::JepsenLog, ModelKind::CasRegister);
        if got != want {
            wrong.push(format!("etcd_{n:03}: {got:?}, published {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(linearizable, 23);
}

#[test]
fn knossos_cas_register_histories_get_their_published_verdicts() {
    let mut wrong = Vec::new();
    let mut seen = 0;
    for (sub, want) in [("good", Verdict::Valid), ("bad", Verdict::Invalid)] {
        for path in files(&fixtures().join("knossos/cas-register").join(sub), "edn") {
            seen += 1;
            let got = verdict(&path, Format::Edn, ModelKind::CasRegister);
            if got != want {
                wrong.push(format!("{}: {got:?}, published {want:?}", path.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(seen, 120, "113 good and 7 bad histories");
}

fn cachecheck(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_cachecheck"))
        .args(args)
        .output()
        .expect("run cachecheck");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn check_prints_a_verdict_per_key_and_exits_by_it() {
    let bad = fixtures().join("porcupine/kv/c10-bad.txt");
    let (code, out, err) = cachecheck(&["check", bad.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format"], "porcupine-kv");
    assert_eq!(v["model"], "kv");
    assert_eq!(v["linearizable"], "invalid");
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(
        keys.len() as u64,
        v["valid"].as_u64().unwrap() + v["invalid"].as_u64().unwrap()
    );
    let bad_keys: Vec<&serde_json::Value> =
        keys.iter().filter(|k| k["verdict"] == "invalid").collect();
    assert!(!bad_keys.is_empty());
    let x = &bad_keys[0]["violation"];
    assert!(
        x["explanation"]
            .as_str()
            .unwrap()
            .contains("cannot be linearized"),
        "{x}"
    );
    assert!(!x["lines"].as_array().unwrap().is_empty());

    let ok = fixtures().join("porcupine/jepsen/etcd_002.log");
    let (code, out, _) = cachecheck(&["check", ok.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(jepsen-log, model cas-register)"), "{out}");
    assert!(
        out.contains("linearizable: valid (1 valid, 0 invalid, 0 unknown)"),
        "{out}"
    );
}

#[test]
fn a_malformed_history_is_one_line_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("torn.edn", "[{:process 0, :type :invoke, :f :read, :value nil}\n {:process 0, :type :ok, :f :read, :value 3\n", "line 2"),
        ("notmap.edn", "[{:process 0, :type :invoke, :f :read, :value nil}\n 17]\n", "line 2: expected an operation map"),
        ("badf.edn", "[{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value 1}\n{:process 1, :type :invoke, :f :lock, :value 1}]", "line 3: :f :lock is not"),
        ("open.edn", "[{:process 0, :type :invoke, :f :read, :value nil}\n", "line 1: the history's opening bracket is never closed"),
        ("bad.log", "INFO  jepsen.util - 0\t:invoke\t:write\t[1\n", "line 1: the value"),
    ];
    for (name, text, want) in cases {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        let (code, out, err) = cachecheck(&["check", p.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {out} {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(
            err.contains(p.to_str().unwrap()) && err.contains(want),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_cas_under_the_register_model_names_the_fix() {
    let p = fixtures().join("knossos/cas-register/bad/cas-failure.edn");
    let (code, _, err) = cachecheck(&["check", p.to_str().unwrap(), "--model", "register"]);
    assert_eq!(code, 2);
    assert!(
        err.contains(":cas is not an operation of the register model (fix: --model cas-register)"),
        "{err}"
    );
    let (code, _, err) = cachecheck(&["check", p.to_str().unwrap(), "--timeout", "0"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--timeout: must be a positive number"),
        "{err}"
    );
}

#[test]
fn nemesis_operations_and_jepsen_independent_tuples() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("independent.edn");
    // Key 1 is fine; key 2 reads 5 after a completed write of 6: not linearizable.
    std::fs::write(
        &p,
        "; jepsen.independent tuples\n\
         [{:process 0, :type :invoke, :f :write, :value [1 5], :time 10}\n\
          {:process :nemesis, :type :info, :f :start, :value \"partition\"}\n\
          {:process 0, :type :ok, :f :write, :value [1 5], :time 20}\n\
          {:process 1, :type :invoke, :f :read, :value [1 nil]}\n\
          {:process 1, :type :ok, :f :read, :value [1 5]}\n\
          {:process 0, :type :invoke, :f :write, :value [2 6]}\n\
          {:process 0, :type :ok, :f :write, :value [2 6]}\n\
          {:process 1, :type :invoke, :f :read, :value [2 nil]}\n\
          {:process 1, :type :ok, :f :read, :value [2 5]}]\n",
    )
    .unwrap();
    let (code, out, err) = cachecheck(&["check", p.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["model"], "register");
    let keys = v["keys"].as_array().unwrap();
    let verdict_of = |k: &str| keys.iter().find(|x| x["key"] == k).unwrap()["verdict"].clone();
    assert_eq!(
        (verdict_of("1"), verdict_of("2")),
        ("valid".into(), "invalid".into())
    );
    assert_eq!(v["operations"], 4);
}

/// Every fixture history exported to EDN and checked by the search: where cachecheck's
/// commit-ordered verdict is valid the export's is too, since the export has strictly less to
/// go on (no commit log). They agree on every fixture but two: `divergent-bad`, where two
/// concurrent writes committed 401 then 402 and a later read saw 401 (without the commit
/// order, 402-then-401 explains it), and `lost-write-bad`, whose acknowledged write never
/// committed (without the commit log, a write nobody read may have happened).
#[test]
fn exported_fixtures_round_trip_through_check_with_the_same_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fixtures().join("histories");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let (mut valid, mut invalid) = (0, 0);
    let mut differ = Vec::new();
    for d in &dirs {
        let linear = cachecheck::checker::linearizable::check_dir(d)
            .unwrap()
            .verdict;
        let out = tmp
            .path()
            .join(format!("{}.edn", d.file_name().unwrap().to_string_lossy()));
        let (code, _, err) = cachecheck(&[
            "export",
            d.to_str().unwrap(),
            "--format",
            "edn",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(formats::detect(&out).unwrap(), Format::Edn);
        let (code, stdout, err) =
            cachecheck(&["check", out.to_str().unwrap(), "--format", "edn", "--json"]);
        assert!(code == 0 || code == 1, "{}: {err}", out.display());
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(v["model"], "register");
        let edn: Verdict = serde_json::from_value(v["linearizable"].clone()).unwrap();
        if linear == Verdict::Valid {
            assert_eq!(edn, Verdict::Valid, "{}", d.display());
        }
        if edn != linear {
            differ.push(d.file_name().unwrap().to_string_lossy().into_owned());
        }
        match linear {
            Verdict::Valid => valid += 1,
            Verdict::Invalid => invalid += 1,
            Verdict::Unknown => {}
        }
    }
    assert!(valid > 0 && invalid > 0, "{valid} valid, {invalid} invalid");
    assert_eq!(differ, ["divergent-bad", "lost-write-bad"]);
}
