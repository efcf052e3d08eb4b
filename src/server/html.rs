//! HTML pages of the OGC API resources, for a person in a browser (`f=html` or a browser's
//! Accept header): a generic page for JSON resources (title, description, links,
//! collections, conformance classes) and an items page with a small map of the page's
//! features and a table whose columns are the layer's typed fields. Every link is absolute
//! and keeps `f=html`.

use serde_json::Value;

use super::base_url::BaseUrl;
use super::Collection;
use crate::layers::FieldType;

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `href` with `f=html` added.
fn html_href(href: &str) -> String {
    if href.contains("f=") {
        return href.to_string();
    }
    let sep = if href.contains('?') { '&' } else { '?' };
    format!("{href}{sep}f=html")
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em 2em;color:#222}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}\
th{background:#f3f3f3;text-align:left;vertical-align:bottom}td{max-width:40em;overflow-wrap:anywhere}table.items td{white-space:nowrap;max-width:none}th small{color:#777;font-weight:normal}\
td.n{text-align:right;font-variant-numeric:tabular-nums}nav{margin-bottom:1em;font-size:14px}\
#map{height:380px;margin:1em 0;border:1px solid #bbb}";

fn page_start(title: &str, base: &BaseUrl, crumbs: &[(String, String)], head: &str) -> String {
    let mut h = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\
         <style>{STYLE}</style>{head}</head><body><nav>",
        esc(title)
    );
    let mut parts = vec![format!(
        "<a href=\"{}\">Kent &amp; Medway violence hotspots</a>",
        esc(&base.join("/?f=html"))
    )];
    for (label, href) in crumbs {
        parts.push(format!("<a href=\"{}\">{}</a>", esc(href), esc(label)));
    }
    h.push_str(&parts.join(" › "));
    h.push_str(&format!("</nav><h1>{}</h1>", esc(title)));
    h
}

fn links_list(v: &Value) -> String {
    let mut h = String::new();
    if let Some(links) = v["links"].as_array() {
        h.push_str("<ul>");
        for l in links {
            let href = l["href"].as_str().unwrap_or("");
            let ty = l["type"].as_str().unwrap_or("");
            h.push_str(&format!(
                "<li><a href=\"{}\">{}</a> ({}{})</li>",
                esc(href),
                esc(l["title"]
                    .as_str()
                    .unwrap_or(l["rel"].as_str().unwrap_or(""))),
                esc(l["rel"].as_str().unwrap_or("")),
                if ty.is_empty() {
                    String::new()
                } else {
                    format!(", {}", esc(ty))
                }
            ));
        }
        h.push_str("</ul>");
    }
    h
}

/// A JSON resource (landing page, conformance, collections, one collection, one feature)
/// as a page.
pub fn render_resource(v: &Value, base: &BaseUrl) -> String {
    let title = v["title"]
        .as_str()
        .or(v["id"].as_str())
        .unwrap_or("Kent & Medway violence hotspots");
    let mut crumbs = if v["collections"].is_array() || v["itemType"].is_string() {
        vec![("Collections".to_string(), base.join("/collections?f=html"))]
    } else {
        Vec::new()
    };
    if v["type"] == "Feature" {
        crumbs.push(("Collections".to_string(), base.join("/collections?f=html")));
        let up = v["links"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["rel"] == "collection")
            .and_then(|l| l["href"].as_str());
        if let Some(up) = up {
            let id = up.rsplit('/').next().unwrap_or("collection");
            crumbs.push((id.to_string(), format!("{up}?f=html")));
            crumbs.push(("items".to_string(), format!("{up}/items?f=html")));
        }
    }
    let mut h = page_start(title, base, &crumbs, "");
    if let Some(d) = v["description"].as_str() {
        h.push_str(&format!("<p>{}</p>", esc(d)));
    }
    h.push_str(&disclosure_html(&v["disclosure"]));
    // A problem (RFC 9457): what was wrong, in full.
    if let (Some(status), Some(detail)) = (v["status"].as_u64(), v["detail"].as_str()) {
        h.push_str(&format!("<p><b>{status}</b>: {}</p>", esc(detail)));
    }
    h.push_str(&links_list(v));
    if let Some(cols) = v["collections"].as_array() {
        h.push_str("<h2>Collections</h2><ul>");
        for c in cols {
            let id = c["id"].as_str().unwrap_or("");
            h.push_str(&format!(
                "<li><a href=\"{0}\">{1}</a>: <a href=\"{2}\">items</a> · <a href=\"{3}\">GeoPackage</a> · <a href=\"{4}\">CSV</a></li>",
                esc(&base.join(&format!("/collections/{id}?f=html"))),
                esc(c["title"].as_str().unwrap_or(id)),
                esc(&base.join(&format!("/collections/{id}/items?f=html"))),
                esc(&base.join(&format!("/collections/{id}/items?f=gpkg"))),
                esc(&base.join(&format!("/collections/{id}/items?f=csv"))),
            ));
        }
        h.push_str("</ul>");
    }
    if v["type"] == "Feature" {
        h.push_str("<table>");
        if let Some(props) = v["properties"].as_object() {
            for (k, x) in props {
                let text = match x.as_f64() {
                    Some(f) if x.is_f64() => format_real(f),
                    _ => cell_text(x),
                };
                h.push_str(&format!(
                    "<tr><th>{}</th><td>{}</td></tr>",
                    esc(k),
                    esc(&text)
                ));
            }
        }
        h.push_str("</table>");
    }
    if let Some(c) = v["conformsTo"].as_array() {
        h.push_str("<h2>Conformance classes</h2><ul>");
        for x in c {
            h.push_str(&format!("<li>{}</li>", esc(x.as_str().unwrap_or(""))));
        }
        h.push_str("</ul>");
    }
    h.push_str("</body></html>");
    h
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// JSON for an inline script: `</` cannot close the element.
fn script_json(v: &Value) -> String {
    v.to_string().replace("</", "<\\/")
}

/// A collection's disclosure rules as a short list (nothing when it has none).
pub fn disclosure_html(d: &Value) -> String {
    let Some(rules) = d["rules"].as_array().filter(|r| !r.is_empty()) else {
        return String::new();
    };
    let mut h = format!(
        "<details><summary>Disclosure control ({} tier)</summary><ul>",
        esc(d["tier"].as_str().unwrap_or(""))
    );
    for r in rules.iter().filter_map(Value::as_str) {
        h.push_str(&format!("<li>{}</li>", esc(r)));
    }
    h.push_str("</ul></details>");
    h
}

/// The items page: breadcrumbs up to the collection, counts, paging links, a map of the
/// features (WGS84 pages, when the map library is installed) over the district outlines,
/// and one column per schema field, headed with its type.
pub fn render_items(
    c: &Collection,
    fc: &Value,
    base: &BaseUrl,
    map_library: bool,
    wgs84: bool,
) -> String {
    let head = if map_library && wgs84 {
        format!(
            "<link rel=\"stylesheet\" href=\"{0}\"><script src=\"{1}\"></script>",
            esc(&base.join("/map/assets/leaflet.css")),
            esc(&base.join("/map/assets/leaflet.js"))
        )
    } else {
        String::new()
    };
    let crumbs = vec![
        ("Collections".to_string(), base.join("/collections?f=html")),
        (
            c.title.clone(),
            base.join(&format!("/collections/{}?f=html", c.id)),
        ),
    ];
    let mut h = page_start(&format!("{}: items", c.title), base, &crumbs, &head);
    let features = fc["features"].as_array().cloned().unwrap_or_default();
    h.push_str(&format!(
        "<p>{} of {} features. {}</p>",
        fc["numberReturned"],
        fc["numberMatched"],
        esc(&c.description)
    ));
    h.push_str(&disclosure_html(
        c.table.metadata.get("disclosure").unwrap_or(&Value::Null),
    ));
    let mut nav = Vec::new();
    for l in fc["links"].as_array().into_iter().flatten() {
        let rel = l["rel"].as_str().unwrap_or("");
        let href = l["href"].as_str().unwrap_or("");
        let label = match rel {
            "prev" => "‹ previous page".to_string(),
            "next" => "next page ›".to_string(),
            "self" => "this page as GeoJSON".to_string(),
            "enclosure" => l["title"].as_str().unwrap_or(rel).to_string(),
            _ => continue,
        };
        let target = if rel == "prev" || rel == "next" {
            html_href(href)
        } else {
            href.to_string()
        };
        nav.push(format!("<a href=\"{}\">{}</a>", esc(&target), esc(&label)));
    }
    h.push_str(&format!("<p>{}</p>", nav.join(" · ")));
    if !head.is_empty() {
        h.push_str("<div id=\"map\"></div><script>");
        h.push_str(&format!(
            "const fc={};const m=L.map('map');\
             m.attributionControl.addAttribution({});\
             fetch({}).then(r=>r.json()).then(d=>L.geoJSON(d,{{style:{{color:'#555',weight:1,fill:false}}}}).addTo(m)).catch(()=>{{}});\
             const l=L.geoJSON(fc,{{style:{{color:'#c0392b',weight:2,fillOpacity:0.35}},onEachFeature:(f,x)=>{{x.bindTooltip(String(f.id));\
             L.circleMarker(x.getBounds().getCenter(),{{radius:4,color:'#c0392b',weight:1,fillOpacity:0.8}}).bindTooltip(String(f.id)).addTo(m);}}}}).addTo(m);\
             const b=l.getBounds();if(b.isValid()){{m.fitBounds(b,{{maxZoom:15}});}}else{{m.setView([51.25,0.75],9);}}",
            script_json(&serde_json::json!({"type": "FeatureCollection", "features": features})),
            script_json(&Value::from(crate::boundaries::BOUNDARY_ATTRIBUTION)),
            script_json(&Value::String(base.join("/collections/districts/items?limit=20")))
        ));
        h.push_str("</script>");
    }
    h.push_str("<table class=\"items\"><tr>");
    for f in &c.table.fields {
        h.push_str(&format!(
            "<th title=\"{}\">{}<br><small>{}</small></th>",
            esc(f.description),
            esc(f.name),
            f.ty.json_schema()
        ));
    }
    h.push_str("</tr>");
    for feat in &features {
        h.push_str("<tr>");
        let fid = cell_text(&feat["id"]);
        for (k, f) in c.table.fields.iter().enumerate() {
            let v = &feat["properties"][f.name];
            let class = if f.ty == FieldType::Text {
                ""
            } else {
                " class=\"n\""
            };
            let text = match (f.ty, v.as_f64()) {
                (FieldType::Real, Some(x)) => format_real(x),
                _ => cell_text(v),
            };
            // Long text (patrol plans, JSON detail) is cut in the table, whole on hover
            // and on the feature's page, which the first column links to.
            let shown = if text.chars().count() > 60 {
                format!("{}…", text.chars().take(60).collect::<String>())
            } else {
                text.clone()
            };
            let cell = if k == 0 {
                format!(
                    "<a href=\"{}\">{}</a>",
                    esc(&base.join(&format!("/collections/{}/items/{fid}?f=html", c.id))),
                    esc(&shown)
                )
            } else {
                esc(&shown)
            };
            let title = if shown != text {
                format!(" title=\"{}\"", esc(&text))
            } else {
                String::new()
            };
            h.push_str(&format!("<td{class}{title}>{cell}</td>"));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></body></html>");
    h
}

/// A real for a table cell: up to 6 significant digits, no exponent for ordinary sizes.
fn format_real(x: f64) -> String {
    if x == 0.0 || (1e-4..1e9).contains(&x.abs()) {
        let digits = (5 - x.abs().log10().floor() as i32).clamp(0, 9) as usize;
        let s = format!("{x:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{x:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reals_read_well_in_tables() {
        assert_eq!(format_real(0.0), "0");
        assert_eq!(format_real(12.5), "12.5");
        assert_eq!(format_real(0.0123456789), "0.0123457");
        assert_eq!(format_real(615109.495), "615109");
        assert_eq!(format_real(1e-7), "1.000e-7");
    }

    #[test]
    fn script_json_cannot_close_the_script() {
        let v = Value::String("</script><script>alert(1)".into());
        assert!(!script_json(&v).contains("</"));
    }
}
