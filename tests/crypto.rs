//! Field encryption: envelopes, their binding to a place, data keys under the master key, rotation.

mod common;

use std::collections::HashSet;
use whatsapi::crypto::{self, Aad, CryptoError, Key, random_bytes};
use whatsapi::store::accounts::{self, NewAccount};
use whatsapi::store::keystore::KeystoreFiles;
use whatsapi::store::rotation::{self, Rotation};
use whatsapi::store::{AccountId, Db, OpenError, StoreOptions};

const HEADER: usize = 1 + 4 + 24;

fn aad(account: i64, row: i64) -> Aad<'static> {
    Aad {
        account,
        table: "connections",
        column: "access_token",
        row,
    }
}

#[test]
fn sealed_values_open_to_the_same_bytes() {
    let key = Key::generate().unwrap();
    for plaintext in [
        &b""[..],
        b"x",
        "EAAG token \u{645}\u{631}\u{62d}\u{628}\u{627} \u{1f600}".as_bytes(),
        &[7u8; 70_000],
    ] {
        let envelope = key.seal(&aad(1, 2), plaintext).unwrap();
        assert_eq!(envelope.len(), HEADER + plaintext.len() + 16);
        assert_eq!(&**key.open(&aad(1, 2), &envelope).unwrap(), plaintext);
        if plaintext.len() > 8 {
            assert!(
                !envelope.windows(plaintext.len()).any(|w| w == plaintext),
                "plaintext visible in envelope"
            );
        }
    }
}

#[test]
fn any_flipped_bit_is_detected() {
    let key = Key::generate().unwrap();
    let envelope = key
        .seal(&aad(1, 2), b"a secret access token value")
        .unwrap();
    // Every bit of version, key id, nonce, ciphertext and tag.
    for byte in 0..envelope.len() {
        for bit in 0..8 {
            let mut forged = envelope.clone();
            forged[byte] ^= 1 << bit;
            assert!(
                key.open(&aad(1, 2), &forged).is_err(),
                "flipping bit {bit} of byte {byte} went unnoticed"
            );
        }
    }
    // Truncated or padded envelopes too.
    assert_eq!(
        key.open(&aad(1, 2), &envelope[..HEADER + 15]),
        Err(CryptoError::Malformed)
    );
    let mut longer = envelope.clone();
    longer.push(0);
    assert!(key.open(&aad(1, 2), &longer).is_err());
}

#[test]
fn a_flipped_key_id_is_refused_even_by_the_key_it_now_names() {
    let key = Key::generate().unwrap();
    let envelope = key.seal(&aad(1, 2), b"value").unwrap();
    let mut relabelled = envelope.clone();
    relabelled[4] ^= 1;
    let other_id = u32::from_be_bytes([relabelled[1], relabelled[2], relabelled[3], relabelled[4]]);
    // Same key material under the id the forged header names: the id is bound in the associated data.
    let same_bytes_other_id = Key::from_parts(other_id, *key.expose());
    assert_eq!(
        same_bytes_other_id.open(&aad(1, 2), &relabelled),
        Err(CryptoError::Forged)
    );
}

#[test]
fn a_value_moved_to_another_place_does_not_open() {
    let key = Key::generate().unwrap();
    let place = Aad {
        account: 7,
        table: "connections",
        column: "access_token",
        row: 42,
    };
    let envelope = key.seal(&place, b"token").unwrap();
    let elsewhere = [
        Aad { row: 43, ..place },
        Aad {
            column: "app_secret",
            ..place
        },
        Aad {
            table: "webhook_endpoints",
            ..place
        },
        Aad {
            account: 8,
            ..place
        },
        // Length-prefixed parts: shifting characters between table and column is another place.
        Aad {
            table: "connectionsa",
            column: "ccess_token",
            ..place
        },
    ];
    for other in elsewhere {
        assert_eq!(
            key.open(&other, &envelope),
            Err(CryptoError::Forged),
            "opened at {other:?}"
        );
    }
    assert!(key.open(&place, &envelope).is_ok());
}

#[test]
fn a_hundred_thousand_seals_never_repeat_a_nonce() {
    let key = Key::generate().unwrap();
    let mut nonces = HashSet::with_capacity(100_000);
    for i in 0..100_000i64 {
        let envelope = key.seal(&aad(1, i), b"m").unwrap();
        let nonce: [u8; 24] = envelope[5..HEADER].try_into().unwrap();
        assert!(nonces.insert(nonce), "nonce repeated after {i} seals");
    }
}

#[test]
fn another_key_cannot_open() {
    let a = Key::generate().unwrap();
    let b = Key::from_parts(a.id(), random_bytes().unwrap());
    let envelope = a.seal(&aad(1, 1), b"value").unwrap();
    assert_eq!(b.open(&aad(1, 1), &envelope), Err(CryptoError::Forged));
    assert!(matches!(
        Key::generate().unwrap().open(&aad(1, 1), &envelope),
        Err(CryptoError::UnknownKey(_))
    ));
}

/// A store with accounts and a table of sealed values, as later features keep them.
struct Fixture {
    install: common::Install,
    values: Vec<(AccountId, i64, Vec<u8>)>,
}

fn open_db(install: &common::Install) -> Result<Db, OpenError> {
    let key = crypto::read_key_file(&install.key_file()).expect("key file");
    std::fs::create_dir_all(install.data_dir()).unwrap();
    Db::open(
        &install.db_path(),
        &StoreOptions::default(),
        key,
        &keystore_files(install),
    )
}

fn keystore_files(install: &common::Install) -> KeystoreFiles {
    KeystoreFiles::beside(&install.key_file())
}

fn fixture(accounts: usize) -> Fixture {
    let install = common::Install::new();
    crypto::create_key_file(&install.key_file()).unwrap();
    let db = open_db(&install).unwrap();
    db.write(|conn| {
        Ok(conn.execute_batch(
            "CREATE TABLE sealed_values (id INTEGER PRIMARY KEY, account_id INTEGER, value BLOB)",
        )?)
    })
    .unwrap();
    let mut values = Vec::new();
    for n in 0..accounts {
        let keyring_db = db.clone();
        let account = db
            .write(move |conn| {
                let new = NewAccount {
                    company: format!("Company {n}"),
                    ..Default::default()
                };
                accounts::create(conn, keyring_db.keyring(), &new)
            })
            .unwrap();
        for row in 0..3i64 {
            let plaintext = format!("secret {n}/{row}").into_bytes();
            let writer_db = db.clone();
            let stored = plaintext.clone();
            db.write(move |conn| {
                let row_id = account.get() * 1000 + row;
                let sealed = writer_db
                    .keyring()
                    .seal(&sealed_place(account, row_id), &stored)?;
                conn.execute(
                    "INSERT INTO sealed_values (id, account_id, value) VALUES (?1, ?2, ?3)",
                    (row_id, account.get(), sealed),
                )?;
                Ok(())
            })
            .unwrap();
            values.push((account, account.get() * 1000 + row, plaintext));
        }
    }
    Fixture { install, values }
}

fn sealed_place(account: AccountId, row: i64) -> Aad<'static> {
    Aad {
        account: account.get(),
        table: "sealed_values",
        column: "value",
        row,
    }
}

fn assert_all_readable(db: &Db, values: &[(AccountId, i64, Vec<u8>)]) {
    for (account, row, plaintext) in values {
        let (account, row) = (*account, *row);
        let opened = db
            .read(|conn| {
                let sealed: Vec<u8> = conn.query_row(
                    "SELECT value FROM sealed_values WHERE id = ?1",
                    [row],
                    |r| r.get(0),
                )?;
                Ok(db
                    .keyring()
                    .open(&sealed_place(account, row), &sealed)?
                    .to_vec())
            })
            .unwrap();
        assert_eq!(&opened, plaintext);
    }
}

#[test]
fn data_keys_are_sealed_with_the_master_key() {
    let fx = fixture(2);
    let db = open_db(&fx.install).unwrap();
    assert_all_readable(&db, &fx.values);
    let keystore = db.keyring().keystore();
    let keys = keystore.known().unwrap().keys;
    assert_eq!(keys.len(), 2);
    for sealed in keys.values() {
        assert_eq!(
            crypto::Header::parse(sealed).unwrap().key_id,
            db.keyring().master_id()
        );
    }
}

#[test]
fn rotation_keeps_everything_readable_under_the_new_key_only() {
    let fx = fixture(5);
    let old_key = crypto::read_key_file(&fx.install.key_file()).unwrap();
    // Phone numbers are found by a blind index; a rotation must not change it, or numbers seen before it
    // would no longer be found.
    let account = fx.values[0].0;
    let index_before = open_db(&fx.install)
        .unwrap()
        .keyring()
        .phone_index(account, "15550001111")
        .unwrap();
    let backup = fx.install.path("before-rotation.db");
    {
        let db = open_db(&fx.install).unwrap();
        whatsapi::store::backup::backup(&fx.install.db_path(), &backup, db.keyring()).unwrap();
    }
    let report = rotation::rotate(
        &fx.install.db_path(),
        &fx.install.key_file(),
        &keystore_files(&fx.install),
        Default::default(),
    )
    .unwrap();
    assert_eq!(report.resealed, 5);
    assert_eq!(report.old_key_id, old_key.id());

    let new_key = crypto::read_key_file(&fx.install.key_file()).unwrap();
    assert_eq!(new_key.id(), report.new_key_id);
    assert_ne!(new_key.id(), old_key.id());
    assert_eq!(common::mode_of(&fx.install.key_file()), 0o600);
    // The old key is kept for backups made before the rotation.
    assert_eq!(
        crypto::read_key_file(&report.retired_key_file)
            .unwrap()
            .id(),
        old_key.id()
    );

    let db = open_db(&fx.install).unwrap();
    assert_all_readable(&db, &fx.values);
    assert_eq!(
        db.keyring().phone_index(account, "15550001111").unwrap(),
        index_before
    );
    drop(db);
    // A backup made before the rotation opens with the current key and keystore: it holds no data key of
    // its own, and the keystore knows the key it was sealed with was replaced.
    let restored = fx.install.path("restored/whatsapi.db");
    std::fs::create_dir_all(restored.parent().unwrap()).unwrap();
    std::fs::copy(&backup, &restored).unwrap();
    let db = Db::open(
        &restored,
        &StoreOptions::default(),
        new_key.clone(),
        &keystore_files(&fx.install),
    )
    .unwrap();
    assert_all_readable(&db, &fx.values);
    drop(db);
    // The old key no longer opens the database.
    std::fs::remove_file(fx.install.key_file()).unwrap();
    std::fs::hard_link(&report.retired_key_file, fx.install.key_file()).unwrap();
    assert!(matches!(
        open_db(&fx.install),
        Err(OpenError::WrongKey { .. })
    ));
}

#[test]
fn an_interrupted_rotation_is_refused_at_start_and_finished_by_running_it_again() {
    let fx = fixture(4);
    {
        let rotation = Rotation::prepare(
            &fx.install.db_path(),
            &fx.install.key_file(),
            &keystore_files(&fx.install),
            Default::default(),
        )
        .unwrap();
        assert_eq!(rotation.reseal_batch(1).unwrap(), 1);
        // Dropped here: as if the process died between batches.
    }
    assert!(rotation::next_key_file(&fx.install.key_file()).exists());
    let err = open_db(&fx.install).err().expect("start refused");
    assert!(matches!(err, OpenError::RotationPending), "{err}");
    assert!(err.to_string().contains("whatsapi keys rotate"));

    let report = rotation::rotate(
        &fx.install.db_path(),
        &fx.install.key_file(),
        &keystore_files(&fx.install),
        Default::default(),
    )
    .unwrap();
    assert_eq!(
        report.resealed, 3,
        "only the data keys not yet resealed are done again"
    );
    assert!(!rotation::next_key_file(&fx.install.key_file()).exists());
    let db = open_db(&fx.install).unwrap();
    assert_all_readable(&db, &fx.values);
}

#[test]
fn deleting_an_account_destroys_its_data_key() {
    let fx = fixture(2);
    let db = open_db(&fx.install).unwrap();
    let (gone, row, _) = fx.values[0].clone();
    let keyring_db = db.clone();
    assert!(
        db.write(move |conn| accounts::delete(conn, keyring_db.keyring(), gone))
            .unwrap()
    );
    assert!(db.keyring().keystore().get(gone).unwrap().is_none());
    // Its sealed values can no longer be opened by anyone; the other account is untouched.
    let opened = db.read(|conn| {
        let sealed: Vec<u8> = conn.query_row(
            "SELECT value FROM sealed_values WHERE id = ?1",
            [row],
            |r| r.get(0),
        )?;
        Ok(db
            .keyring()
            .open(&sealed_place(gone, row), &sealed)?
            .to_vec())
    });
    assert!(opened.is_err());
    assert_all_readable(&db, &fx.values[3..]);
}
