//! Thumbnails in `stowage-local`, end to end: the real binary makes them in the background once
//! an image's upload lands, and again after a re-upload; `wait` holds the answer until they
//! exist.

mod support;

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, RgbImage};
use serde_json::json;
use support::{token, Api, Local};

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .unwrap();
    bytes
}

/// `GET /files/{id}/thumbnail?size=64&wait=10`, followed: the thumbnail's width and height.
async fn thumbnail(api: &Api, token: &str, id: &str) -> (u32, u32) {
    let response = api
        .http
        .get(format!("{}/files/{id}/thumbnail?size=64&wait=10", api.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let image = api.http.get(&location).send().await.unwrap();
    assert_eq!(image.status(), 200);
    let image = image::load_from_memory(&image.bytes().await.unwrap()).unwrap();
    (image.width(), image.height())
}

#[tokio::test]
async fn thumbnails_are_made_in_the_background_and_again_after_a_reupload() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::start(dir.path());
    let api = Api {
        // The redirect is followed by hand, to see it.
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        url: local.url.clone(),
    };
    let alice = token(dir.path(), "acme", "alice");

    let (code, created) = api
        .create(&alice, json!({"name": "wide.png", "mimeType": "image/png"}))
        .await;
    assert_eq!(code, 201, "{created}");
    let id = created["file"]["id"].as_str().unwrap().to_owned();
    let url = created["upload"]["url"].as_str().unwrap();
    assert_eq!(api.put(url, "image/png", &png(400, 200)).await, 200);
    api.wait_for_status(&alice, &id, "uploaded").await;
    assert_eq!(thumbnail(&api, &alice, &id).await, (64, 32));

    // A re-upload: the status stays `uploaded`, and the new content gets its own thumbnails.
    let started = api
        .http
        .post(format!("{}/files/{id}/upload", api.url))
        .bearer_auth(&alice)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 200);
    let started: serde_json::Value = started.json().await.unwrap();
    let url = started["upload"]["url"].as_str().unwrap();
    assert_eq!(api.put(url, "image/png", &png(200, 400)).await, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if thumbnail(&api, &alice, &id).await == (32, 64) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no new thumbnails");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
