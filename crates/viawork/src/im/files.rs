//! The `[im]` settings and the checks a file must pass before it is stored: a size limit
//! and an allow-list of file types (by extension, since that is what the receiving user's
//! computer will go by when they open it). Executables and scripts are not in the default
//! list; an administrator who wants them adds them, or allows every type with `"*"`.

/// The `[im]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImConfig {
    /// Longest message text, in bytes after sanitising (`im.max_message_bytes`).
    pub max_message_bytes: usize,
    /// Largest file (`im.max_file_bytes`).
    pub max_file_bytes: usize,
    /// File name extensions that may be sent, lower-case without the dot; `*` allows any
    /// (`im.allowed_file_types`).
    pub allowed_file_types: Vec<String>,
    /// Most participants in one conversation (`im.max_participants`).
    pub max_participants: usize,
}

/// The file types allowed by default: documents, images, archives, text.
pub const DEFAULT_FILE_TYPES: &[&str] = &[
    "pdf", "txt", "csv", "md", "log", "json", "xml", "rtf", "doc", "docx", "xls", "xlsx", "ppt",
    "pptx", "odt", "ods", "odp", "vsdx", "png", "jpg", "jpeg", "gif", "webp", "bmp", "svg", "zip",
    "7z", "gz", "mp3", "wav", "m4a", "mp4", "mov", "eml", "msg", "ics", "vcf",
];

impl Default for ImConfig {
    fn default() -> Self {
        ImConfig {
            max_message_bytes: 32 * 1024,
            max_file_bytes: 10 * 1024 * 1024,
            allowed_file_types: DEFAULT_FILE_TYPES.iter().map(|s| (*s).to_owned()).collect(),
            max_participants: 250,
        }
    }
}

/// Why a file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// No usable name.
    #[error(
        "give the file a name of 1 to 255 characters without path separators or control characters"
    )]
    BadName,
    /// Empty.
    #[error("the file is empty")]
    Empty,
    /// Over the limit.
    #[error("the file is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Its type is not allowed.
    #[error("files of type {ext:?} may not be sent (allowed: {allowed})")]
    TypeNotAllowed {
        /// The extension found ("" for none).
        ext: String,
        /// The allowed list, for the message.
        allowed: String,
    },
}

impl ImConfig {
    /// Checks a file's name and size; returns the name as it will be stored.
    pub fn check_file(&self, name: &str, size: usize) -> Result<String, FileError> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > 255
            || name.contains(['/', '\\'])
            || name.chars().any(char::is_control)
            || name == "."
            || name == ".."
        {
            return Err(FileError::BadName);
        }
        if size == 0 {
            return Err(FileError::Empty);
        }
        if size > self.max_file_bytes {
            return Err(FileError::TooLarge {
                limit: self.max_file_bytes,
            });
        }
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        let any = self.allowed_file_types.iter().any(|t| t == "*");
        if !any && (ext.is_empty() || !self.allowed_file_types.contains(&ext)) {
            return Err(FileError::TypeNotAllowed {
                ext,
                allowed: self.allowed_file_types.join(", "),
            });
        }
        Ok(name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_checked_by_name_size_and_type() {
        let c = ImConfig {
            max_file_bytes: 100,
            ..ImConfig::default()
        };
        assert_eq!(c.check_file(" Report.PDF ", 10).unwrap(), "Report.PDF");
        assert_eq!(c.check_file("", 10), Err(FileError::BadName));
        assert_eq!(
            c.check_file("../etc/passwd.txt", 10),
            Err(FileError::BadName)
        );
        assert_eq!(c.check_file("a\u{0}.txt", 10), Err(FileError::BadName));
        assert_eq!(c.check_file("a.txt", 0), Err(FileError::Empty));
        assert_eq!(
            c.check_file("a.txt", 101),
            Err(FileError::TooLarge { limit: 100 })
        );
        assert!(matches!(
            c.check_file("setup.exe", 10),
            Err(FileError::TypeNotAllowed { ext, .. }) if ext == "exe"
        ));
        assert!(matches!(
            c.check_file("noextension", 10),
            Err(FileError::TypeNotAllowed { ext, .. }) if ext.is_empty()
        ));
        let any = ImConfig {
            allowed_file_types: vec!["*".into()],
            ..ImConfig::default()
        };
        assert!(any.check_file("setup.exe", 10).is_ok());
    }
}
