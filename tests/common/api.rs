//! The developer API as a client sees it: an account with an API key and a sandbox connection on a
//! running server, and calls with the key.

use super::{Install, Server, stderr};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub key: String,
    pub agent: ureq::Agent,
}

impl Api {
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut response = match (method, body) {
            ("GET", _) => {
                let mut request = self
                    .agent
                    .get(&url)
                    .header("Authorization", &format!("Bearer {}", self.key));
                for (k, v) in headers {
                    request = request.header(*k, *v);
                }
                request.call()
            }
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("Authorization", &format!("Bearer {}", self.key))
                .call(),
            (_, body) => {
                let mut request = self
                    .agent
                    .post(&url)
                    .header("Authorization", &format!("Bearer {}", self.key));
                for (k, v) in headers {
                    request = request.header(*k, *v);
                }
                request.send_json(body.unwrap_or(json!({})))
            }
        }
        .expect("request");
        let status = response.status().as_u16();
        (
            status,
            response.body_mut().read_json().unwrap_or(Value::Null),
        )
    }

    pub fn call_patch(&self, path: &str, body: Value) -> (u16, Value) {
        let mut response = self
            .agent
            .patch(format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.key))
            .send_json(body)
            .expect("request");
        let status = response.status().as_u16();
        (
            status,
            response.body_mut().read_json().unwrap_or(Value::Null),
        )
    }

    pub fn send(&self, message: Value) -> (u16, Value) {
        self.call("POST", "/api/v1/messages", Some(message), &[])
    }

    /// Waits (at most 15 s) until the message reaches one of `statuses`.
    pub fn wait_for(&self, id: &str, statuses: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (status, message) = self.call("GET", &format!("/api/v1/messages/{id}"), None, &[]);
            assert_eq!(status, 200, "{message}");
            if statuses.contains(&message["status"].as_str().unwrap_or_default()) {
                return message;
            }
            assert!(
                Instant::now() < deadline,
                "message {id} stayed {}",
                message["status"]
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn with_password(install: &Install, args: &[&str]) -> String {
    let output = install.run_typing(args, PASSWORD);
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// The password of every person the tests create from the command line.
pub const PASSWORD: &str = "a long enough pass phrase";

/// A business account (company "Shop") whose owner signs in with `email` and `PASSWORD`; its id.
pub fn owner(install: &Install, name: &str, email: &str) -> String {
    with_password(
        install,
        &[
            "account",
            "create",
            "--company",
            "Shop",
            "--name",
            name,
            "--email",
            email,
            "--password-stdin",
        ],
    )
}

/// An account with an API key and a sandbox connection, on a running server.
pub fn account(install: &Install, server: &Server, email: &str) -> (Api, String) {
    let (_, api, connection) = account_with_id(install, server, email);
    (api, connection)
}

/// `account`, with the account's id first.
pub fn account_with_id(install: &Install, server: &Server, email: &str) -> (String, Api, String) {
    let id = owner(install, "Owner", email);
    let output = install.run(&["apikey", "create", "--account", &id, "--name", "tests"]);
    let key = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("wapi_"), "{key}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let api = Api {
        base: server.url.clone(),
        key,
        agent,
    };
    let (status, connection) = api.call(
        "POST",
        "/api/v1/connections",
        Some(json!({"kind": "sandbox", "name": "Sandbox"})),
        &[],
    );
    assert_eq!(status, 201, "{connection}");
    let connection_id = connection["id"].as_str().unwrap().to_owned();
    (id, api, connection_id)
}

/// A Cloud API number whose Meta is at `graph_base_url` (which the server must allow), paced at `mps`,
/// with the app secret `meta::SECRET`; the connection's JSON.
pub fn cloud_number(api: &Api, graph_base_url: &str, mps: i64) -> Value {
    let (status, connection) = api.call(
        "POST",
        "/api/v1/connections",
        Some(
            json!({"kind": "cloud", "name": "Simulated Meta", "phone_number_id": "106540352242922",
            "waba_id": "102290129340398", "access_token": "token", "app_secret": super::meta::SECRET,
            "graph_base_url": graph_base_url, "throughput_mps": mps}),
        ),
        &[],
    );
    assert_eq!(status, 201, "{connection}");
    connection
}

pub fn count(install: &Install, sql: &str) -> i64 {
    rusqlite::Connection::open(install.db_path())
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}
