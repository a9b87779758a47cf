//! QR codes as inline SVG, for the voucher print sheet: scanning one opens the portal with the
//! code filled in. Pure: text in, markup out (the `qrcodegen` crate does the encoding).

use qrcodegen::{QrCode, QrCodeEcc};

/// An SVG of `text` as a QR code (error correction M, a 4-module quiet zone), `px` wide, or
/// `None` if the text is too long for any QR version. Dark modules are one stroked path of
/// horizontal runs, so a code costs a few KB at most. `text` only reaches the output as modules.
pub(crate) fn svg(text: &str, px: u32) -> Option<String> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let border = 4;
    // One stroked line per row of dark runs, in relative moves: about 7 bytes a run.
    let mut path = String::new();
    for y in 0..size {
        let mut x = 0;
        let mut pen: Option<i32> = None;
        while x < size {
            if !qr.get_module(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < size && qr.get_module(x, y) {
                x += 1;
            }
            match pen {
                None => path.push_str(&format!("M{} {}.5", start + border, y + border)),
                Some(at) => path.push_str(&format!("m{} 0", start - at)),
            }
            path.push_str(&format!("h{}", x - start));
            pen = Some(x);
        }
    }
    let view = size + 2 * border;
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{px}\" height=\"{px}\" \
         viewBox=\"0 0 {view} {view}\" shape-rendering=\"crispEdges\" role=\"img\" \
         aria-label=\"QR code\"><rect width=\"{view}\" height=\"{view}\" fill=\"#fff\"/>\
         <path d=\"{path}\" stroke=\"#000\" fill=\"none\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_portal_url() {
        let svg = svg("http://192.168.1.1:8080/?code=CAFEABCDEFGH23", 120).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        // Version 4 (33 modules) at level M for a 47-byte URL, plus the quiet zone.
        assert!(svg.contains("viewBox=\"0 0 41 41\""), "{svg}");
        assert!(!svg.contains("CAFE"), "the text is only in the modules");
        assert!(svg.len() < 2500, "{} bytes", svg.len());
        assert!(
            super::svg(&"x".repeat(5000), 100).is_none(),
            "too long for any version"
        );
    }

    /// Draws the path back onto a grid and compares it with the encoder's modules: the SVG
    /// shows exactly the code (no scanner is needed to trust the drawing).
    #[test]
    fn the_drawing_matches_the_modules() {
        let text = "http://10.0.0.1:8080/?code=ABCDEFGH23";
        let qr = QrCode::encode_text(text, QrCodeEcc::Medium).unwrap();
        let svg = svg(text, 100).unwrap();
        let path = svg.split("d=\"").nth(1).unwrap().split('"').next().unwrap();
        let size = qr.size();
        let mut grid = vec![vec![false; (size + 8) as usize]; (size + 8) as usize];
        let (mut x, mut y) = (0i32, 0i32);
        let mut rest = path;
        while !rest.is_empty() {
            let op = rest.as_bytes()[0];
            let end = rest[1..]
                .find(|c: char| c.is_ascii_alphabetic())
                .map_or(rest.len(), |i| i + 1);
            let args: Vec<f64> = rest[1..end]
                .split(' ')
                .map(|a| a.parse().unwrap())
                .collect();
            match op {
                b'M' => (x, y) = (args[0] as i32, args[1].floor() as i32),
                b'm' => x += args[0] as i32,
                b'h' => {
                    for dx in 0..args[0] as i32 {
                        grid[y as usize][(x + dx) as usize] = true;
                    }
                    x += args[0] as i32;
                }
                other => panic!("unexpected {}", other as char),
            }
            rest = &rest[end..];
        }
        for my in 0..size {
            for mx in 0..size {
                assert_eq!(
                    grid[(my + 4) as usize][(mx + 4) as usize],
                    qr.get_module(mx, my),
                    "module {mx},{my}"
                );
            }
        }
    }
}
