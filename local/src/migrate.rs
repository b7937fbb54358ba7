//! Opening a data directory's objects: this layout (`crate::objects`) as it is, the layout
//! `stowage-local` wrote before it (`s3s-fs` 0.14's) migrated once, anything else refused.
//!
//! `s3s-fs` 0.14 kept an object's bytes where this layout does (`<bucket>/<key>`) and its
//! attributes in dot files at the root: `.bucket-<b64 bucket>.object-<b64 key>.metadata.json`
//! (content headers, user metadata) and `….internal.json` (ETag, checksums), base64 URL-safe
//! without padding; multipart parts were `.upload_id-<id>.part-<n>`, with `.upload-<id>.json`
//! and Stowage's `.stowage-uploads/` beside. The migration writes each object's attributes in
//! this layout's form, then removes those files, then writes `FORMAT`: a migration cut short is
//! run again from the start on the next open. Open multipart uploads are not carried over (an
//! upload in progress is started again by its client: its record's completion answers that the
//! upload is gone).

use std::path::Path;

use base64::Engine as _;

use crate::objects::{Attributes, Layout, FORMAT, FORMAT_FILE};

/// What opening found.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// This layout, as it was.
    Current,
    /// A new, empty directory, now holding this layout.
    Created,
    /// `s3s-fs` 0.14's layout, migrated.
    Migrated {
        objects: usize,
        uploads_dropped: usize,
    },
}

/// Opens the objects under `root` (which exists), migrating or refusing as the module says.
pub fn open(root: &Path) -> std::io::Result<(Layout, Opened)> {
    let layout = Layout::at(root);
    let format_path = root.join(FORMAT_FILE);
    let opened = match std::fs::read_to_string(&format_path) {
        Ok(text) if text.trim() == FORMAT => Opened::Current,
        Ok(text) => {
            return Err(std::io::Error::other(format!(
                "{} says the objects are in the layout `{}`; this stowage-local reads `{FORMAT}` \
                 (and migrates the s3s-fs 0.14 layout earlier versions wrote). Run the \
                 stowage-local that wrote it, or use another --data-dir.",
                format_path.display(),
                text.trim()
            )))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            layout.prepare()?;
            let opened = migrate(&layout)?;
            std::fs::write(root.join(".stowage/tmp/FORMAT"), format!("{FORMAT}\n"))?;
            std::fs::rename(root.join(".stowage/tmp/FORMAT"), &format_path)?;
            opened
        }
        Err(err) => return Err(err),
    };
    layout.prepare()?;
    Ok((layout, opened))
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// The previous layout's files at the root (and Stowage's own beside them).
fn is_previous_layouts(name: &str) -> bool {
    name.starts_with(".bucket-")
        || name.starts_with(".upload_id-")
        || (name.starts_with(".upload-") && name.ends_with(".json"))
        || (name.starts_with(".tmp.") && name.ends_with(".internal.part"))
        || name == ".stowage-uploads"
}

fn migrate(layout: &Layout) -> std::io::Result<Opened> {
    let root = layout.root();
    let previous: Vec<String> = std::fs::read_dir(root)?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| is_previous_layouts(name))
        .collect();
    let buckets = layout.buckets()?;
    let mut objects = 0;
    for (bucket, _) in &buckets {
        for (key, _, _) in layout.keys(bucket, "")? {
            let stem = format!(".bucket-{}.object-{}", b64(bucket), b64(&key));
            let read_json = |suffix: &str| -> std::io::Result<serde_json::Value> {
                match std::fs::read(root.join(format!("{stem}.{suffix}.json"))) {
                    Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
                        std::io::Error::other(format!("{stem}.{suffix}.json: {err}"))
                    }),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                        Ok(serde_json::Value::Null)
                    }
                    Err(err) => Err(err),
                }
            };
            let attributes = read_json("metadata")?;
            let internal = read_json("internal")?;
            let text = |value: &serde_json::Value, name: &str| {
                value.get(name).and_then(|v| v.as_str()).map(str::to_owned)
            };
            let etag = match text(&internal, "e_tag") {
                Some(etag) => etag.trim_matches('"').to_owned(),
                None => crate::objects::md5_of_file(&layout.object(bucket, &key))?,
            };
            let metadata = attributes
                .get("user_metadata")
                .and_then(|m| m.as_object())
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            let checksums = ["crc32", "crc32c", "sha1", "sha256", "crc64nvme"]
                .into_iter()
                .filter_map(|name| {
                    Some((
                        name.to_owned(),
                        text(&internal, &format!("checksum_{name}"))?,
                    ))
                })
                .collect();
            let migrated = Attributes {
                etag,
                content_type: text(&attributes, "content_type"),
                content_disposition: text(&attributes, "content_disposition"),
                content_encoding: text(&attributes, "content_encoding"),
                content_language: text(&attributes, "content_language"),
                cache_control: text(&attributes, "cache_control"),
                metadata,
                checksums,
            };
            layout.set_attributes(bucket, &key, &migrated)?;
            objects += 1;
        }
    }
    if previous.is_empty() && objects == 0 {
        return Ok(Opened::Created);
    }
    let uploads_dropped = previous
        .iter()
        .filter(|name| name.starts_with(".upload-"))
        .count();
    for name in &previous {
        let path = root.join(name);
        if path.is_dir() {
            std::fs::remove_dir_all(path)?;
        } else {
            std::fs::remove_file(path)?;
        }
    }
    Ok(Opened::Migrated {
        objects,
        uploads_dropped,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bytes::Bytes;
    use md5::Digest as _;
    use s3s::dto::*;
    use s3s::{S3Request, S3};

    use super::*;

    fn request<T>(input: T) -> S3Request<T> {
        S3Request {
            input,
            method: http::Method::PUT,
            uri: http::Uri::from_static("/"),
            headers: http::HeaderMap::new(),
            extensions: http::Extensions::new(),
            credentials: None,
            region: None,
            service: None,
            trailing_headers: None,
        }
    }

    fn body(bytes: &'static [u8]) -> Option<StreamingBlob> {
        Some(StreamingBlob::from(s3s::Body::from(Bytes::from_static(
            bytes,
        ))))
    }

    /// What `stowage-local` wrote before this layout, written by `s3s-fs` 0.14.1 itself.
    #[tokio::test]
    async fn the_previous_layout_is_migrated_once_and_an_unknown_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("stowage")).unwrap();
        let previous = s3s_fs::FileSystem::new(root).unwrap();
        let bytes: &[u8] = b"hello, previous layout";
        let put = PutObjectInput::builder()
            .bucket("stowage".into())
            .key("files/t/1/a.txt".into())
            .content_type(Some("text/plain".into()))
            .cache_control(Some("no-cache".into()))
            .metadata(Some(HashMap::from([("owner".into(), "me".into())])))
            .body(body(b"hello, previous layout"))
            .build()
            .unwrap();
        previous.put_object(request(put)).await.unwrap();
        let created = previous
            .create_multipart_upload(request(
                CreateMultipartUploadInput::builder()
                    .bucket("stowage".into())
                    .key("files/t/2/big".into())
                    .build()
                    .unwrap(),
            ))
            .await
            .unwrap();
        let upload_id = created.output.upload_id.unwrap();
        previous
            .upload_part(request(
                UploadPartInput::builder()
                    .bucket("stowage".into())
                    .key("files/t/2/big".into())
                    .upload_id(upload_id)
                    .part_number(1)
                    .body(body(b"part one"))
                    .build()
                    .unwrap(),
            ))
            .await
            .unwrap();
        drop(previous);
        let names = |root: &Path| {
            let mut names: Vec<String> = std::fs::read_dir(root)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert!(
            names(root).iter().any(|n| n.starts_with(".bucket-")),
            "{:?}",
            names(root)
        );

        let (layout, opened) = open(root).unwrap();
        assert_eq!(
            opened,
            Opened::Migrated {
                objects: 1,
                uploads_dropped: 1
            }
        );
        let attributes = layout
            .attributes("stowage", "files/t/1/a.txt")
            .unwrap()
            .unwrap();
        assert_eq!(attributes.etag, hex::encode(md5::Md5::digest(bytes)));
        assert_eq!(attributes.content_type.as_deref(), Some("text/plain"));
        assert_eq!(attributes.cache_control.as_deref(), Some("no-cache"));
        assert_eq!(
            attributes.metadata.get("owner").map(String::as_str),
            Some("me")
        );
        assert_eq!(
            std::fs::read(layout.object("stowage", "files/t/1/a.txt")).unwrap(),
            bytes
        );
        // Nothing of the previous layout is left; the open upload is gone.
        assert_eq!(names(root), [".stowage", "FORMAT", "stowage"]);
        assert!(layout.keys("stowage", "files/t/2").unwrap().is_empty());

        // Opened again: as it is.
        assert_eq!(open(root).unwrap().1, Opened::Current);
        assert_eq!(
            open(root)
                .unwrap()
                .0
                .attributes("stowage", "files/t/1/a.txt")
                .unwrap(),
            Some(attributes)
        );

        // A layout this version does not know is refused, naming it.
        std::fs::write(root.join(FORMAT_FILE), "stowage-local objects 99\n").unwrap();
        let err = open(root).unwrap_err().to_string();
        assert!(err.contains("`stowage-local objects 99`"), "{err}");
        assert!(err.contains("--data-dir"), "{err}");
    }

    #[test]
    fn a_new_directory_gets_this_layout() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("stowage")).unwrap();
        assert_eq!(open(dir.path()).unwrap().1, Opened::Created);
        assert_eq!(
            std::fs::read_to_string(dir.path().join(FORMAT_FILE))
                .unwrap()
                .trim(),
            FORMAT
        );
        assert_eq!(open(dir.path()).unwrap().1, Opened::Current);
    }
}
