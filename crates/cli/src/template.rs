//! The YAML `render` prints comes from template files (crates/cli/templates),
//! read in at build time: `{{name}}` placeholders filled with values, the
//! rest verbatim. Values are not scanned again, so a value holding `{{` is
//! printed as given.

/// `template` with each `{{name}}` replaced by its value in `values`; a
/// placeholder without a value stays as written (the tests check that
/// every template is filled).
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let body = &from[2..];
        let value = body.find("}}").and_then(|end| {
            let name = &body[..end];
            values.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v, end))
        });
        match value {
            Some((v, end)) => {
                out.push_str(v);
                rest = &body[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = body;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn placeholders_are_filled_once_and_unknown_ones_kept() {
        assert_eq!(fill("a: {{x}}, b: {{y}}", &[("x", "1"), ("y", "{{x}}")]), "a: 1, b: {{x}}");
        assert_eq!(fill("{ k: {{x}} } {{z}}", &[("x", "v")]), "{ k: v } {{z}}");
        assert_eq!(fill("{{x}}{{x}}", &[("x", "ab")]), "abab");
        assert_eq!(fill("tail {{", &[]), "tail {{");
    }
}
