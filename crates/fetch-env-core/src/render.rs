//! Output formats. The only module that turns secret values into output text; its buffers are
//! zeroed on drop.

use std::io::Write as _;

use zeroize::Zeroizing;

use crate::env_name::EnvName;
use crate::secret_value::SecretValue;

/// How the resolved environment is printed or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `export NAME='value'` lines for `eval` in any POSIX shell (the compatible default).
    Export,
    /// `NAME=value` lines, for diffing and for docker compose `env_file`.
    File,
    /// One JSON object, in manifest order.
    Json,
}

/// A value that the format cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the value of {0} contains a NUL byte, which no environment variable can hold")]
    Nul(EnvName),
}

/// Renders `environment` in `format`.
pub fn render(
    environment: &[(&EnvName, &SecretValue)],
    format: Format,
) -> Result<Zeroizing<String>, RenderError> {
    if let Some((name, _)) = environment.iter().find(|(_, v)| v.expose().contains('\0')) {
        return Err(RenderError::Nul((*name).clone()));
    }
    let mut out = Zeroizing::new(String::new());
    match format {
        Format::Export => {
            for (name, value) in environment {
                out.push_str("export ");
                out.push_str(name.as_str());
                out.push('=');
                push_single_quoted(&mut out, value.expose());
                out.push('\n');
            }
        }
        Format::File => {
            for (name, value) in environment {
                out.push_str(name.as_str());
                out.push('=');
                push_env_file_value(&mut out, value.expose());
                out.push('\n');
            }
        }
        Format::Json => {
            let mut bytes = Zeroizing::new(Vec::new());
            bytes.push(b'{');
            for (i, (name, value)) in environment.iter().enumerate() {
                if i > 0 {
                    bytes.push(b',');
                }
                bytes.extend_from_slice(b"\n  ");
                push_json_string(&mut bytes, name.as_str());
                bytes.extend_from_slice(b": ");
                push_json_string(&mut bytes, value.expose());
            }
            bytes.extend_from_slice(if environment.is_empty() {
                b"}\n"
            } else {
                b"\n}\n"
            });
            out.push_str(std::str::from_utf8(&bytes).unwrap_or_default());
        }
    }
    Ok(out)
}

/// POSIX single quoting: everything is literal inside `'…'`; a `'` is written as `'\''`.
/// This is the one quoting that every POSIX shell reads back byte for byte.
fn push_single_quoted(out: &mut String, value: &str) {
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
}

/// The docker compose `env_file` syntax, as compose v2 reads it (compose-go's dotenv parser):
/// single quotes, where nothing but `\'` is special and nothing is interpolated, for a value
/// without `'`, `\`, LF or CR; otherwise double quotes with `\\`, `\"`, `\$`, `\n` and `\r`
/// escaped, which that parser reads back byte for byte (a `$` written `\$` is never
/// interpolated). Single quotes cannot carry a `\` before the closing quote (compose-go reads
/// `'abc\'` as an escaped quote and refuses the file), and a line break is kept on one line for
/// diffing. `compose_handoff.rs` measures every hostile value through compose v2 itself.
fn push_env_file_value(out: &mut String, value: &str) {
    if !value.contains(['\'', '\\', '\n', '\r']) {
        out.push('\'');
        out.push_str(value);
        out.push('\'');
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '$' => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_json_string(out: &mut Vec<u8>, text: &str) {
    // Writing a &str to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let a = EnvName::new("A").unwrap();
        let b = EnvName::new("B").unwrap();
        let va = SecretValue::from("it's $x");
        let vb = SecretValue::from("line1\nline2");
        let env = [(&a, &va), (&b, &vb)];
        assert_eq!(
            render(&env, Format::Export).unwrap().as_str(),
            "export A='it'\\''s $x'\nexport B='line1\nline2'\n"
        );
        assert_eq!(
            render(&env, Format::File).unwrap().as_str(),
            "A=\"it's \\$x\"\nB=\"line1\\nline2\"\n"
        );
        assert_eq!(
            render(&env, Format::Json).unwrap().as_str(),
            "{\n  \"A\": \"it's $x\",\n  \"B\": \"line1\\nline2\"\n}\n"
        );
        assert_eq!(render(&[], Format::Json).unwrap().as_str(), "{}\n");
        let nul = SecretValue::from("a\0b");
        assert_eq!(
            render(&[(&a, &nul)], Format::Export),
            Err(RenderError::Nul(a.clone()))
        );
    }
}
