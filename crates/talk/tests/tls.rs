//! TLS is the `tls` feature, off by default (root Cargo.toml says why): without it, an app that
//! should reach the real Giphy API does not start, and says how to turn TLS on.

use talk::{ChatApi, Config, ConsumerService, Services};

/// Services that do nothing: the launcher refuses before any of them runs.
#[derive(Clone)]
struct Idle;

impl Services for Idle {
    async fn chat_api(&self, _: ChatApi) -> anyhow::Result<()> {
        Ok(())
    }
    async fn storage_service(&self, _: ConsumerService) -> anyhow::Result<()> {
        Ok(())
    }
    async fn giphy_service(&self, _: ConsumerService) -> anyhow::Result<()> {
        Ok(())
    }
}

#[cfg(not(feature = "tls"))]
#[tokio::test(flavor = "multi_thread")]
async fn a_giphy_key_without_tls_stops_the_app_with_the_way_out() {
    let mut config = Config::embedded();
    config.giphy_api_key = Some("a key".into());
    let Err(error) = talk::launch::start(Idle, &config).await else {
        panic!("the app started, though it cannot reach https://api.giphy.com");
    };
    let said = format!("{error:#}");
    assert!(said.contains("--features talk/tls"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_giphy_needs_no_tls() {
    let mut config = Config::embedded();
    config.giphy_api_key = Some("a key".into());
    config.giphy_base_url = Some("http://127.0.0.1:9".into());
    let app = talk::launch::start(Idle, &config)
        .await
        .expect("an http Giphy needs no TLS");
    app.stop().await.unwrap();
}
