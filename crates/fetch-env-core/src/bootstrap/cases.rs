//! The bootstrap parser's own cases, as data shared by two tests: the unit tests in
//! `bootstrap.rs` check each outcome, and `crates/fetch-env/tests/bootstrap_bash.rs` sources
//! each input in bash, the reader fetch-env must agree with (or refuse where it would not). A
//! case added here is checked against bash too, so a value written down here that bash reads
//! differently fails that test.
//!
//! Plain data: no dependency on the parser, so that the binary's tests can include this file.

/// A file the parser accepts, and some of the values it must give.
#[derive(Debug)]
pub struct Accepted {
    pub text: &'static str,
    pub values: &'static [(&'static str, &'static str)],
}

/// A file the parser refuses at `line`, with a message containing `needle`.
#[derive(Debug)]
pub struct Refused {
    pub text: &'static [u8],
    pub line: u64,
    pub needle: &'static str,
}

const fn refused(text: &'static str, line: u64, needle: &'static str) -> Refused {
    Refused {
        text: text.as_bytes(),
        line,
        needle,
    }
}

/// Every construct of the supported subset in one file. The unit test also checks the line
/// numbers and the key order of this one.
pub const SUPPORTED_SUBSET: Accepted = Accepted {
    text: concat!(
        "# comment\n",
        "\n",
        "A=plain\n",
        "export B='single $x \"q\" `b` \\n'\n",
        "C=\"dq \\\" \\\\ \\$ \\` end\"\n",
        "D=value # trailing comment\n",
        "E=\n",
        "F='multi\nline'\n",
        "G=a#b\n",
        "  H=arn:aws:secretsmanager:eu-central-1:1:secret:rds!cluster-x\n",
        "I=$ # a lone dollar is literal\n",
        "J=\"two\nlines\" # a real newline inside double quotes\n",
        "A=second\n",
    ),
    values: &[
        ("A", "second"),
        ("B", "single $x \"q\" `b` \\n"),
        ("C", "dq \" \\ $ ` end"),
        ("D", "value"),
        ("E", ""),
        ("F", "multi\nline"),
        ("G", "a#b"),
        (
            "H",
            "arn:aws:secretsmanager:eu-central-1:1:secret:rds!cluster-x",
        ),
        ("I", "$"),
        ("J", "two\nlines"),
    ],
};

/// Bash keeps `\n` inside double quotes as a backslash and an `n`; reading it as a newline
/// would give the service a value the host's init script does not see.
pub const BACKSLASH_N_IN_DOUBLE_QUOTES: Refused = refused(
    "A=ok\nAWS_SECRET_ACCESS_KEY=\"CANARY\\nmore\"\n",
    2,
    "bash keeps it as a backslash and an n",
);

/// Bash drops a backslash before a line break inside double quotes and joins the lines.
pub const BACKSLASH_NEWLINE_IN_DOUBLE_QUOTES: Refused = refused(
    "A=\"one \\\ntwo\"\n",
    1,
    "a backslash at the end of a line inside the double-quoted value of A",
);

/// Carriage returns bash ignores: those inside comments.
pub const CARRIAGE_RETURNS_IN_COMMENTS: Accepted = Accepted {
    text: "# saved on Windows\r\nA=x # a trailing comment\r\n  # indented\r\n",
    values: &[("A", "x")],
};

/// CRLF line ends are accepted and read as LF (SPEC 2.1), in values, quotes and blank lines
/// alike. (bash itself would keep each carriage return in its value: the bash test gives bash
/// the same file with LF line ends.)
pub const CRLF_LINE_ENDS: Accepted = Accepted {
    text: "# saved on Windows\r\nAWS_REGION=eu-central-1\r\n\r\nA='line one\r\nline two'\r\n",
    values: &[("AWS_REGION", "eu-central-1"), ("A", "line one\nline two")],
};

/// A carriage return that does not end a line stays in the value in bash: refused.
pub const LONE_CARRIAGE_RETURN: Refused =
    refused("A=x\ry\n", 1, "a carriage return in the value of A");

/// ... also where a key should start.
pub const LONE_CARRIAGE_RETURN_BEFORE_A_KEY: Refused = refused(
    "A=x\n\rB=y\n",
    2,
    "a carriage return where a key should start",
);

/// `export A={a,b}` is brace-expanded by bash into `export A=a A=b`, so A is `b`.
pub const BRACE_EXPANSION_AFTER_EXPORT: Refused = refused(
    "A={a,b}\nexport B=eu-central-1{a,b}\n",
    2,
    "bash would brace-expand it",
);

/// `$[1+1]` is bash's old arithmetic expansion: the value is `2`.
pub const DOLLAR_BRACKET_ARITHMETIC: Refused =
    refused("A=\"$[1+1]\"\n", 1, "a '$' expansion in the value of A");

/// Every file the parser must refuse, with where and why.
pub const REFUSED: &[Refused] = &[
    refused("A=$(id)\n", 1, "command substitution"),
    refused("\nA=`id`\n", 2, "command substitution"),
    refused("A=\"x $(id)\"\n", 1, "command substitution"),
    refused("A=$HOME\n", 1, "'$' expansion"),
    refused("A=\"${HOME}\"\n", 1, "'$' expansion"),
    refused("A=two words\n", 1, "cannot contain spaces"),
    refused("A= value\n", 1, "space after '='"),
    refused("A = b\n", 1, "spaces around '='"),
    refused("1A=b\n", 1, "invalid key"),
    refused("A-B=c\n", 1, "invalid key: a name may only contain"),
    refused("just text\n", 1, "expected KEY=value"),
    refused("hunter2\n", 1, "expected KEY=value"),
    refused("A='open\n", 1, "never closed"),
    refused("A=\"open\n", 1, "never closed"),
    refused("A='x'y\n", 1, "joined"),
    refused("A=x;y\n", 1, "shell operator"),
    refused("A=~/x\n", 1, "'~'"),
    refused("A=a\\b\n", 1, "backslash"),
    refused("A=\"\\q\"\n", 1, "unsupported backslash escape"),
    refused("A=\"\\t\"\n", 1, "unsupported backslash escape"),
    refused("A=ab'c'\n", 1, "quote inside"),
    refused("A=1\rB=2\n", 1, "carriage return"),
    refused(
        "AWS_SECRET_ACCESS_KEY=abc def-SECRET\n",
        1,
        "cannot contain spaces",
    ),
    Refused {
        text: b"A=1\nB=\xff\n",
        line: 2,
        needle: "the file is not valid UTF-8",
    },
    Refused {
        text: b"A=1\n\nB=\0\n",
        line: 3,
        needle: "NUL byte",
    },
    BACKSLASH_N_IN_DOUBLE_QUOTES,
    BACKSLASH_NEWLINE_IN_DOUBLE_QUOTES,
    LONE_CARRIAGE_RETURN,
    LONE_CARRIAGE_RETURN_BEFORE_A_KEY,
    BRACE_EXPANSION_AFTER_EXPORT,
    DOLLAR_BRACKET_ARITHMETIC,
    refused("A=$[1]\n", 1, "'$' expansion"),
];

/// Every file the parser must accept, with some of its values.
pub const ACCEPTED: &[Accepted] = &[
    SUPPORTED_SUBSET,
    CARRIAGE_RETURNS_IN_COMMENTS,
    CRLF_LINE_ENDS,
];
