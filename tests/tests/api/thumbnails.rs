//! Thumbnails on both backends, with images the tests make themselves: every format,
//! an EXIF-rotated JPEG, transparency, a 1×1 image; a decompression bomb (a PNG header claiming
//! 20000×20000), a truncated JPEG and a text file named `.jpg`, none of which crash anything or
//! fail the file; `wait` before and while they are made; re-upload, delete, public files, other
//! tenants and bad input.

use std::io::Cursor;
use std::time::Duration;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use serde_json::json;
use stowage::http::RouteId;
use stowage_tests::{id_of, TestEnv};

/// A `width` × `height` picture with a gradient (so resizing has something to do).
fn picture(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            128,
        ])
    })
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

/// A JPEG whose EXIF says "rotate 90° clockwise to show" (orientation 6).
fn rotated_jpeg(width: u32, height: u32) -> Vec<u8> {
    let jpeg = encode(
        &DynamicImage::ImageRgb8(picture(width, height)),
        ImageFormat::Jpeg,
    );
    // APP1: "Exif\0\0" and a big-endian TIFF header with one IFD entry, Orientation = 6.
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0x00, 0x06, 0, 0]);
    exif.extend_from_slice(&[0, 0, 0, 0]);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    png.extend_from_slice(&body);
    png.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A PNG whose header claims 20000×20000 pixels (400 megapixels, 1.2 GB decoded) with a
/// 12-byte image stream behind it: the header is all there is to go by.
fn bomb() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&20_000u32.to_be_bytes());
    ihdr.extend_from_slice(&20_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    // A zlib stream with one stored byte: far too short, and never read.
    chunk(
        &mut png,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x01, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x01, 0x00, 0x01,
        ],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

async fn uploaded(env: &TestEnv, name: &str, mime: &str, bytes: &[u8]) -> String {
    id_of(
        &env.uploaded("acme", json!({"name": name, "mimeType": mime}), bytes)
            .await,
    )
}

async fn thumbnail(env: &TestEnv, tenant: &str, id: &str, query: &str) -> stowage_tests::Reply {
    env.route(RouteId::GetThumbnail, tenant)
        .id(id)
        .query(query)
        .send()
        .await
}

/// Follows a `302` and decodes the thumbnail; answers it and its `Content-Type`.
async fn fetched(env: &TestEnv, reply: &stowage_tests::Reply) -> (DynamicImage, String) {
    assert_eq!(reply.status, 302, "{}", reply.json);
    let location = reply.headers["location"].to_str().unwrap().to_owned();
    let response = env.http.get(&location).send().await.unwrap();
    assert_eq!(response.status(), 200, "{location}");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.bytes().await.unwrap();
    (
        image::load_from_memory(&bytes).expect("a thumbnail decodes"),
        content_type,
    )
}

async fn every_format_gets_three_sizes_that_fit_their_box(env: TestEnv) {
    env.check_policies();
    let source = DynamicImage::ImageRgb8(picture(1500, 1000));
    for (format, mime) in [
        (ImageFormat::Jpeg, "image/jpeg"),
        (ImageFormat::Png, "image/png"),
        (ImageFormat::WebP, "image/webp"),
        (ImageFormat::Gif, "image/gif"),
        (ImageFormat::Bmp, "image/bmp"),
        (ImageFormat::Tiff, "image/tiff"),
    ] {
        let id = uploaded(&env, "picture", mime, &encode(&source, format)).await;
        // Before they are made: 202, come back in a second.
        let early = thumbnail(&env, "acme", &id, "size=64").await;
        assert_eq!(early.status, 202, "{mime}: {}", early.json);
        assert_eq!(early.headers["retry-after"], "1");
        assert_eq!(early.json["status"], "pending");

        env.make_thumbnails("acme", &id).await;
        for (size, want) in [(64, (64, 43)), (256, (256, 171)), (1024, (1024, 683))] {
            let reply = thumbnail(&env, "acme", &id, &format!("size={size}")).await;
            let (image, content_type) = fetched(&env, &reply).await;
            assert_eq!((image.width(), image.height()), want, "{mime} at {size}");
            assert_eq!(
                content_type, "image/jpeg",
                "{mime}: opaque images make JPEGs"
            );
        }
        // No size: 256.
        let (image, _) = fetched(&env, &thumbnail(&env, "acme", &id, "").await).await;
        assert_eq!(image.width(), 256);
    }
}

async fn orientation_transparency_and_tiny_images_are_kept_right(env: TestEnv) {
    env.check_policies();
    // 400×200 stored, shown rotated: 200×400.
    let id = uploaded(&env, "rotated.jpg", "image/jpeg", &rotated_jpeg(400, 200)).await;
    env.make_thumbnails("acme", &id).await;
    let (image, _) = fetched(&env, &thumbnail(&env, "acme", &id, "size=256").await).await;
    assert_eq!(
        (image.width(), image.height()),
        (128, 256),
        "EXIF orientation applied"
    );

    let mut clear = RgbaImage::from_pixel(300, 300, Rgba([255, 0, 0, 255]));
    for x in 0..150 {
        for y in 0..300 {
            clear.put_pixel(x, y, Rgba([0, 0, 0, 0]));
        }
    }
    let id = uploaded(
        &env,
        "clear.png",
        "image/png",
        &encode(&DynamicImage::ImageRgba8(clear), ImageFormat::Png),
    )
    .await;
    env.make_thumbnails("acme", &id).await;
    let (image, content_type) = fetched(&env, &thumbnail(&env, "acme", &id, "size=64").await).await;
    assert_eq!(content_type, "image/png", "transparency makes PNGs");
    let rgba = image.to_rgba8();
    assert_eq!(rgba.get_pixel(2, 32)[3], 0, "the clear half stays clear");
    assert_eq!(rgba.get_pixel(60, 32)[3], 255);
    // Never upscaled: 300 px fits the 1024 box as it is.
    let (image, _) = fetched(&env, &thumbnail(&env, "acme", &id, "size=1024").await).await;
    assert_eq!((image.width(), image.height()), (300, 300));

    let dot = encode(&DynamicImage::ImageRgb8(picture(1, 1)), ImageFormat::Png);
    let id = uploaded(&env, "dot.png", "image/png", &dot).await;
    env.make_thumbnails("acme", &id).await;
    for size in [64, 256, 1024] {
        let (image, _) = fetched(
            &env,
            &thumbnail(&env, "acme", &id, &format!("size={size}")).await,
        )
        .await;
        assert_eq!((image.width(), image.height()), (1, 1));
    }
}

async fn bombs_broken_and_lying_images_get_none_and_the_file_stays_uploaded(env: TestEnv) {
    env.check_policies();
    let jpeg = encode(
        &DynamicImage::ImageRgb8(picture(300, 200)),
        ImageFormat::Jpeg,
    );
    for (name, mime, bytes, reason) in [
        ("bomb.png", "image/png", bomb(), "pixels"),
        (
            "cut.jpg",
            "image/jpeg",
            jpeg[..jpeg.len() / 3].to_vec(),
            "cut short",
        ),
        (
            "notes.jpg",
            "image/jpeg",
            b"these are notes, not a JPEG".to_vec(),
            "not an image",
        ),
    ] {
        let id = uploaded(&env, name, mime, &bytes).await;
        env.make_thumbnails("acme", &id).await;
        let reply = thumbnail(&env, "acme", &id, "size=64&wait=2").await;
        reply.assert_problem(404, "no_thumbnail");
        assert!(
            reply.json["detail"].as_str().unwrap().contains(reason),
            "{name}: {}",
            reply.json
        );
        assert_eq!(
            env.get("acme", &id).await.json["status"],
            "uploaded",
            "{name}"
        );
        // Made once: asking again changes nothing.
        env.make_thumbnails("acme", &id).await;
        thumbnail(&env, "acme", &id, "")
            .await
            .assert_problem(404, "no_thumbnail");
    }
    // Not an image at all: no thumbnail, without waiting.
    let id = uploaded(&env, "a.txt", "text/plain", b"text").await;
    let started = std::time::Instant::now();
    thumbnail(&env, "acme", &id, "wait=5")
        .await
        .assert_problem(404, "no_thumbnail");
    assert!(started.elapsed() < Duration::from_secs(2));
}

async fn wait_holds_the_answer_until_the_thumbnail_exists(env: TestEnv) {
    env.check_policies();
    let bytes = encode(
        &DynamicImage::ImageRgb8(picture(640, 480)),
        ImageFormat::Png,
    );
    let id = uploaded(&env, "wait.png", "image/png", &bytes).await;
    let started = std::time::Instant::now();
    let reply = thumbnail(&env, "acme", &id, "wait=1").await;
    assert_eq!(reply.status, 202, "{}", reply.json);
    assert!(started.elapsed() >= Duration::from_millis(800), "it waited");

    let (reply, _) = tokio::join!(thumbnail(&env, "acme", &id, "size=64&wait=10"), async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        env.make_thumbnails("acme", &id).await;
    });
    let (image, _) = fetched(&env, &reply).await;
    assert_eq!((image.width(), image.height()), (64, 48));
}

async fn thumbnails_follow_their_file(env: TestEnv) {
    env.check_policies();
    let first = encode(
        &DynamicImage::ImageRgb8(picture(800, 400)),
        ImageFormat::Jpeg,
    );
    let id = uploaded(&env, "p.jpg", "image/jpeg", &first).await;
    env.make_thumbnails("acme", &id).await;
    let old_key = env.content_key(&id).await;
    let old_thumb = format!("thumbs/{old_key}/64");
    assert!(env.object_exists(&old_thumb).await);
    // S3 reports the thumbnails as created objects too; they are not orphans.
    env.deliver(
        env.object_created_event(&old_thumb, &env.next_sequencer())
            .await,
    )
    .await;
    assert!(env.object_exists(&old_thumb).await);

    // A new upload: new thumbnails, and the old ones go with the old content.
    let second = encode(
        &DynamicImage::ImageRgb8(picture(400, 800)),
        ImageFormat::Jpeg,
    );
    let started = env
        .route(RouteId::StartUpload, "acme")
        .id(&id)
        .body(json!({}))
        .send()
        .await;
    assert_eq!(started.status, 200, "{}", started.json);
    env.upload(&started.json["upload"], &second).await;
    let key = stowage_tests::upload_key(&started.json["upload"]);
    env.deliver(env.object_created_event(&key, &env.next_sequencer()).await)
        .await;
    assert_eq!(thumbnail(&env, "acme", &id, "size=64").await.status, 202);
    env.make_thumbnails("acme", &id).await;
    let (image, _) = fetched(&env, &thumbnail(&env, "acme", &id, "size=64").await).await;
    assert_eq!(
        (image.width(), image.height()),
        (32, 64),
        "the new content's"
    );
    assert!(
        !env.object_exists(&old_thumb).await,
        "the old content's are gone"
    );

    // Public: the thumbnail is served from the public space, and withdrawn with the file.
    let public = env
        .route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!({"privateAccess": false}))
        .send()
        .await;
    assert_eq!(public.status, 200, "{}", public.json);
    let reply = thumbnail(&env, "acme", &id, "size=256").await;
    let location = reply.headers["location"].to_str().unwrap().to_owned();
    assert!(
        location.contains("/public/") && location.ends_with("-thumbnail-256"),
        "{location}"
    );
    let public_key = location
        .split_once("/public/")
        .map(|(_, k)| format!("public/{k}"))
        .unwrap();
    assert!(env.object_exists(&public_key).await);
    if env.backend == stowage_tests::Backend::Embedded {
        let (image, _) = fetched(&env, &reply).await;
        assert_eq!(image.height(), 256);
    }
    let private = env
        .route(RouteId::UpdateFile, "acme")
        .id(&id)
        .body(json!({"privateAccess": true}))
        .send()
        .await;
    assert_eq!(private.status, 200);
    assert!(
        !env.object_exists(&public_key).await,
        "withdrawn with the public copy"
    );

    // Deleted: every thumbnail goes.
    let new_key = env.content_key(&id).await;
    assert_eq!(
        env.route(RouteId::DeleteFile, "acme")
            .id(&id)
            .send()
            .await
            .status,
        204
    );
    for size in [64, 256, 1024] {
        assert!(!env.object_exists(&format!("thumbs/{new_key}/{size}")).await);
    }
    assert!(!env.object_exists(&format!("thumbs/{new_key}/state")).await);
}

async fn expiry_removes_the_thumbnails_with_the_file(env: TestEnv) {
    env.check_policies();
    let bytes = encode(
        &DynamicImage::ImageRgb8(picture(300, 300)),
        ImageFormat::Png,
    );
    let file = env
        .uploaded(
            "acme",
            json!({"name": "t.png", "mimeType": "image/png", "kind": "temp", "ttlSeconds": 60}),
            &bytes,
        )
        .await;
    let id = id_of(&file);
    env.make_thumbnails("acme", &id).await;
    let key = env.content_key(&id).await;
    assert!(env.object_exists(&format!("thumbs/{key}/256")).await);
    env.advance(Duration::from_secs(62));
    assert_eq!(env.expire().await, 1);
    for size in [64, 256, 1024] {
        assert!(!env.object_exists(&format!("thumbs/{key}/{size}")).await);
    }
    assert!(!env.object_exists(&format!("thumbs/{key}/state")).await);
}

async fn other_tenants_pending_files_and_bad_input_are_refused(env: TestEnv) {
    env.check_policies();
    let bytes = encode(&DynamicImage::ImageRgb8(picture(10, 10)), ImageFormat::Png);
    let id = uploaded(&env, "t.png", "image/png", &bytes).await;
    env.make_thumbnails("acme", &id).await;
    thumbnail(&env, "globex", &id, "")
        .await
        .assert_problem(404, "not_found");
    for bad in [
        "size=128",
        "size=64&size=256",
        "wait=11",
        "wait=-1",
        "wait=x",
        "colour=red",
    ] {
        thumbnail(&env, "acme", &id, bad)
            .await
            .assert_problem(400, "validation_failed");
    }
    let pending = env
        .create("acme", json!({"name": "p.png", "mimeType": "image/png"}))
        .await;
    let pending = id_of(&pending.json["file"]);
    thumbnail(&env, "acme", &pending, "")
        .await
        .assert_problem(409, "not_uploaded");
    thumbnail(&env, "acme", "01KAQ3V6T0Z9Y8X7W6V5T4S3R2", "")
        .await
        .assert_problem(404, "not_found");
}

/// An attempt that died mid-decode (on Lambda a decoder panic aborts the process, and memory or
/// time can run out) leaves its marker behind: while that attempt could still be running,
/// another one is refused as unavailable (the event is retried); once the marker is older than
/// the function's time limit, the retry records `failed` instead of decoding the image again.
/// A normal attempt leaves no marker.
async fn an_attempt_that_died_is_recorded_failed_on_the_retry(env: TestEnv) {
    env.check_policies();
    use stowage::service::Clock as _;

    let png = encode(&DynamicImage::ImageRgb8(picture(80, 40)), ImageFormat::Png);
    let id = uploaded(&env, "crash.png", "image/png", &png).await;
    let marker = format!("thumbs/{}/attempt", env.content_key(&id).await);
    let begun = env.clock.now().millis().to_string();
    env.s3
        .put_object()
        .bucket(&env.bucket)
        .key(&marker)
        .body(begun.into_bytes().into())
        .send()
        .await
        .unwrap();
    let tenant = stowage::model::TenantId::parse("acme").unwrap();
    let file = stowage::model::FileId::parse(&id).unwrap();
    let busy = env.app.service.make_thumbnails(&tenant, file).await;
    assert!(
        busy.as_ref()
            .is_err_and(|e| e.is(stowage::error::ProblemCode::Unavailable)),
        "{busy:?}"
    );
    assert_eq!(thumbnail(&env, "acme", &id, "").await.status, 202);

    env.advance(Duration::from_secs(76));
    let state = env
        .app
        .service
        .make_thumbnails(&tenant, file)
        .await
        .unwrap();
    assert!(
        matches!(
            state,
            Some(stowage::thumbnails::ThumbnailState::Failed { .. })
        ),
        "{state:?}"
    );
    let reply = thumbnail(&env, "acme", &id, "").await;
    reply.assert_problem(404, "no_thumbnail");
    assert!(
        reply.json["detail"]
            .as_str()
            .unwrap()
            .contains("never finished"),
        "{}",
        reply.json
    );
    assert!(!env.object_exists(&marker).await);

    let id = uploaded(&env, "fine.png", "image/png", &png).await;
    env.make_thumbnails("acme", &id).await;
    let key = env.content_key(&id).await;
    assert!(env.object_exists(&format!("thumbs/{key}/state")).await);
    assert!(!env.object_exists(&format!("thumbs/{key}/attempt")).await);
}

stowage_tests::on_every_backend!(
    every_format_gets_three_sizes_that_fit_their_box,
    orientation_transparency_and_tiny_images_are_kept_right,
    bombs_broken_and_lying_images_get_none_and_the_file_stays_uploaded,
    wait_holds_the_answer_until_the_thumbnail_exists,
    thumbnails_follow_their_file,
    expiry_removes_the_thumbnails_with_the_file,
    other_tenants_pending_files_and_bad_input_are_refused,
    an_attempt_that_died_is_recorded_failed_on_the_retry,
);
