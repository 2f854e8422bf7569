//! Templates and the canonical request: campaign + occurrence → the exact JSON body sent.
//!
//! Pure: no clock, no environment. [`template`] renders every string under `message` (except
//! `lifetime`) with minijinja; [`request`] turns the rendered message into the request body.

mod request;
mod template;
pub mod vendors;

pub use request::*;
pub use template::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Campaign;
    use crate::spec::parse_campaign;
    use std::path::Path;
    use std::sync::Arc;

    fn campaign(text: &str) -> Campaign {
        let file: Arc<Path> = Arc::from(Path::new("c.yaml"));
        let p = parse_campaign(&file, text);
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        p.campaign.unwrap()
    }

    fn ctx() -> Context {
        let local = chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2026, 12, 1, 10, 0, 0)
            .unwrap();
        Context {
            campaign: "sale".into(),
            app: "prod".into(),
            local,
        }
    }
    use chrono::TimeZone as _;

    const HEAD: &str = "version: 1\nname: sale\nschedule: {at: \"2026-12-01T10:00:00\"}\n";

    #[test]
    fn canonical_request_for_tags_with_offline_push() {
        let c = campaign(&format!(
            "{HEAD}audience: {{tags: {{any: [\"Stock A\"], none: [churned]}}}}\nvars: {{discount: 30}}\nmessage:\n  from: admin\n  lifetime: 3d\n  body:\n    - text: \"{{{{ discount }}}}% off until {{{{ occurrence.date }}}} ({{{{ occurrence.weekday }}}}) 你好\"\n  offline_push:\n    title: Black Friday\n    ext: {{z: \"{{{{ campaign.name }}}}\", a: 1}}\n    android: {{huawei_importance: NORMAL, push_style: 1}}\n"
        ));
        let r = render(&Renderer::new(), &c, &ctx(), 42).unwrap();
        assert_eq!(
            r.body,
            r#"{"From_Account":"admin","MsgRandom":42,"OnlineOnlyFlag":0,"Condition":{"TagsOr":["Stock A"],"TagsNot":["churned"]},"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"30% off until 2026-12-01 (Tuesday) 你好"}}],"OfflinePushInfo":{"PushFlag":0,"Title":"Black Friday","Ext":"{\"z\":\"sale\",\"a\":1}","AndroidInfo":{"PushStyle":1,"HuaWeiImportance":"NORMAL"}},"MsgLifeTime":259200}"#
        );
    }

    #[test]
    fn all_audience_has_no_condition_and_media_get_download_flags() {
        let c = campaign(&format!(
            "{HEAD}audience: {{all: true}}\nmessage:\n  online_only: true\n  body:\n    - sound: {{url: u, uuid: i, size: 3, seconds: 2}}\n    - file: {{url: u, uuid: i, name: a.pdf}}\n    - video: {{url: u, uuid: i, thumb: {{url: t, uuid: j, width: 1, height: 2}}}}\n    - image: {{uuid: i, format: png, images: [{{type: thumbnail, width: 1, height: 1, url: x}}]}}\n    - face: {{index: 1}}\n    - location: {{desc: d, latitude: 22.5, longitude: 114}}\n    - custom: {{data: \"{{}}\"}}\n"
        ));
        let r = render(&Renderer::new(), &c, &ctx(), 1).unwrap();
        assert_eq!(
            r.body,
            concat!(
                r#"{"MsgRandom":1,"OnlineOnlyFlag":1,"MsgBody":["#,
                r#"{"MsgType":"TIMSoundElem","MsgContent":{"Url":"u","UUID":"i","Size":3,"Second":2,"Download_Flag":2}},"#,
                r#"{"MsgType":"TIMFileElem","MsgContent":{"Url":"u","UUID":"i","FileName":"a.pdf","Download_Flag":2}},"#,
                r#"{"MsgType":"TIMVideoFileElem","MsgContent":{"VideoUrl":"u","VideoUUID":"i","VideoDownloadFlag":2,"ThumbUrl":"t","ThumbUUID":"j","ThumbWidth":1,"ThumbHeight":2,"ThumbDownloadFlag":2}},"#,
                r#"{"MsgType":"TIMImageElem","MsgContent":{"UUID":"i","ImageFormat":3,"ImageInfoArray":[{"Type":3,"Width":1,"Height":1,"URL":"x"}]}},"#,
                r#"{"MsgType":"TIMFaceElem","MsgContent":{"Index":1}},"#,
                r#"{"MsgType":"TIMLocationElem","MsgContent":{"Desc":"d","Latitude":22.5,"Longitude":114.0}},"#,
                r#"{"MsgType":"TIMCustomElem","MsgContent":{"Data":"{}"}}]}"#
            )
        );
    }

    #[test]
    fn a_template_cannot_change_the_structure() {
        let c = campaign(&format!(
            "{HEAD}audience: {{all: true}}\nvars: {{evil: '\"}},\"x\":{{\"'}}\nmessage:\n  body:\n    - text: \"{{{{ evil }}}}\"\n"
        ));
        let r = render(&Renderer::new(), &c, &ctx(), 1).unwrap();
        assert_eq!(
            r.request["MsgBody"][0]["MsgContent"]["Text"],
            "\"},\"x\":{\""
        );
        assert_eq!(r.request.as_object().unwrap().len(), 3);
    }

    #[test]
    fn unknown_variables_are_named() {
        let c = campaign(&format!(
            "{HEAD}audience: {{all: true}}\nvars: {{discount: 1}}\nmessage:\n  body:\n    - text: \"{{{{ discont }}}} {{{{ occurrence.hour }}}}\"\n"
        ));
        let e = render(&Renderer::new(), &c, &ctx(), 1).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].pointer, "/message/body/0/text");
        assert_eq!(
            e[0].message,
            "unknown template variables `discont`, `occurrence.hour` (available: discount, campaign.name, app.name, occurrence.time, occurrence.date, occurrence.weekday)"
        );
    }

    #[test]
    fn syntax_errors_and_runaway_loops_are_errors_not_hangs() {
        let c = campaign(&format!(
            "{HEAD}audience: {{all: true}}\nmessage:\n  body:\n    - text: \"{{{{ 1 + }}}}\"\n    - text: \"{{% for i in range(100000) %}}{{% for j in range(100000) %}}x{{% endfor %}}{{% endfor %}}\"\n"
        ));
        let e = render(&Renderer::new(), &c, &ctx(), 1).unwrap_err();
        assert_eq!(e.len(), 2);
        assert!(
            e[0].message.starts_with("template error: syntax error"),
            "{}",
            e[0].message
        );
        assert!(e[1].message.contains("fuel"), "{}", e[1].message);
    }

    #[test]
    fn size_shapes_tell_apart_exactly_the_days_whose_bodies_can_differ_in_length() {
        let day = |d: u32| Context {
            local: chrono_tz::Asia::Shanghai
                .with_ymd_and_hms(2026, 12, d, 10, 0, 0)
                .unwrap(),
            ..ctx()
        };
        let (tue, wed, fri, next_tue) = (day(1), day(2), day(4), day(8));
        let of = |text: &str| {
            campaign(&format!(
                "{HEAD}audience: {{all: true}}\nmessage:\n  body:\n    - text: \"{text}\"\n    - text: \"{{{{ 'fixed' }}}}\"\n"
            ))
        };
        let renderer = Renderer::new();
        let len = |c: &crate::spec::Campaign, ctx: &Context| {
            render(&renderer, c, ctx, 1).unwrap().body.len()
        };

        // The date has one length: every day has the same shape, and the same body length.
        let date = of("{{ occurrence.date }}");
        let p = renderer.prepare(date.message_source(), &date.spec.vars);
        assert_eq!(p.size_shape(&tue), p.size_shape(&wed));
        assert_eq!(len(&date, &tue), len(&date, &wed));

        // Weekday names differ in length: Tuesday and Wednesday differ, two Tuesdays do not.
        let weekday = of("{{ occurrence.weekday }}");
        let p = renderer.prepare(weekday.message_source(), &weekday.spec.vars);
        assert_ne!(p.size_shape(&tue), p.size_shape(&wed));
        assert_ne!(len(&weekday, &tue), len(&weekday, &wed));
        assert_eq!(p.size_shape(&tue), p.size_shape(&next_tue));

        // The same length in bytes, but a quote (escaped in the body) only on Fridays.
        let quoted = of(r#"{% if occurrence.weekday == 'Friday' %}\"x{% else %}xx{% endif %}"#);
        let p = renderer.prepare(quoted.message_source(), &quoted.spec.vars);
        assert_ne!(p.size_shape(&tue), p.size_shape(&fri));
        assert_ne!(len(&quoted, &tue), len(&quoted, &fri));
        assert_eq!(p.size_shape(&tue), p.size_shape(&wed));
        assert_eq!(len(&quoted, &tue), len(&quoted, &wed));
    }
}
