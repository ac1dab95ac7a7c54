//! The pages in a real browser: Debian's chromium, headless, driven through chromedriver
//! (WebDriver, with the `fantoccini` crate). On the graph page, Step until the backward pass
//! is done and read the texts' gradients; on the digits page, draw a test digit with mouse
//! movements and read the prediction; no errors in the browser's console; screenshots in
//! `target/browser-screenshots/`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`;
//! `.ci/run` installs them). Without them the tests are compiled as ignored (the build script
//! looks for both), so the summary line says they did not run; under CI they must run.
//! Chromium and chromedriver are killed, and their profile folder removed, however a test
//! ends (a failure included).

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use common::{temp_dir, train_args, TestDir};

/// Why the browser tests are ignored where they are.
const NO_BROWSER: &str = "needs chromium and chromedriver (apt-get install chromium chromium-driver; .ci/run installs them)";

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} is not installed: {NO_BROWSER}"))
}

/// chromedriver (and the chromium it starts) in a process group of its own, with a fresh
/// profile folder. Dropping it kills the whole group, and anything else still using the
/// profile, then removes the profile: nothing outlives a test, whether it passed or failed.
struct Browser {
    driver: Child,
    port: u16,
    profile: TestDir,
}

impl Browser {
    fn launch(name: &str) -> Browser {
        let profile = temp_dir(&format!("browser-profile-{name}"));
        std::fs::create_dir_all(&profile).unwrap();
        let port = free_port();
        let driver = Command::new(find("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        Browser {
            driver,
            port,
            profile,
        }
    }

    /// A WebDriver session on chromium, headless, `width x height`.
    async fn connect(&self, (width, height): (u32, u32)) -> Client {
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": find("chromium"),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-crash-reporter", "--disable-breakpad",
                         format!("--window-size={width},{height}"), format!("--user-data-dir={}", self.profile.display())],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let start = Instant::now();
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let attempt = ClientBuilder::new(connector)
                .capabilities(capabilities.as_object().unwrap().clone())
                .connect(&format!("http://127.0.0.1:{}", self.port))
                .await;
            match attempt {
                Ok(client) => return client,
                Err(e) if start.elapsed() > Duration::from_secs(60) => {
                    panic!("chromedriver did not start: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group chromedriver leads (its pid is the group's id).
        unsafe { libc::kill(-(self.driver.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.driver.wait();
        // Anything that left the group (a crash handler starts its own session) but still
        // uses this profile.
        let profile = self.profile.display().to_string();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&profile) {
                // SAFETY: kill(2) on a process of ours that uses this test's profile.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

#[test]
fn under_ci_the_browser_tests_run() {
    // CI installs the browser before building; were it missing, the browser tests would be
    // ignored and CI would pass without them.
    if std::env::var_os("CI").is_some() {
        let ignored = std::hint::black_box(cfg!(no_browser));
        assert!(!ignored, "CI must run the browser tests: {NO_BROWSER}");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The browser's console messages (chromedriver's log endpoint).
#[derive(Debug)]
struct ConsoleLog;

impl WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

async fn console_errors(client: &Client) -> Vec<String> {
    let log = client.issue_cmd(ConsoleLog).await.unwrap_or(Value::Null);
    log.as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e["level"] == "SEVERE")
                .map(|e| e["message"].to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn text(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Clicks the element with this `id`.
async fn click(client: &Client, id: &str) {
    client
        .find(Locator::Id(id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn screenshot(client: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), client.screenshot().await.unwrap()).unwrap();
}

async fn wait_until(client: &Client, what: &str, script: &str) {
    wait_at_most(client, what, script, Duration::from_secs(20)).await
}

async fn wait_at_most(client: &Client, what: &str, script: &str, limit: Duration) {
    let start = Instant::now();
    loop {
        if client.execute(script, vec![]).await.unwrap() == Value::Bool(true) {
            return;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every product `a × b = c` in the step log, checked: the shown factors give the shown
/// product at the precision it is shown with (4-decimal rounding once made correct steps look
/// wrong, `-0.3 x -0.0028 = 0.0009`).
const PRODUCTS_CHECK_OUT: &str = r#"
    const log = document.getElementById('log').textContent;
    if (/\d x -?\d/.test(log)) return 'an x between numbers';
    const products = [...log.matchAll(/(-?[\d.e+-]+) × (-?[\d.e+-]+) = (-?[\d.e+-]+)/g)];
    if (products.length === 0) return 'no products';
    for (const [line, a, b, c] of products) {
      const digits = c.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').length;
      const got = Number((Number(a) * Number(b)).toPrecision(Math.max(digits, 1)));
      if (got !== Number(c)) return line;
    }
    return 'ok';
"#;

/// True when every node box of the graph is inside the drawing's visible area.
const ALL_NODES_VISIBLE: &str = r#"
    const svg = document.querySelector('#graph svg').getBoundingClientRect();
    const inside = (r) => r.left >= svg.left - 1 && r.right <= svg.right + 1 && r.top >= svg.top - 1 && r.bottom <= svg.bottom + 1;
    return [...document.querySelectorAll('#graph g.node rect')].every(r => inside(r.getBoundingClientRect()));
"#;

/// True when the node being stepped is inside the drawing's visible area.
const ACTIVE_NODE_VISIBLE: &str = r#"
    const svg = document.querySelector('#graph svg').getBoundingClientRect();
    const node = document.querySelector('#graph g.node.current rect');
    if (!node) return false;
    const r = node.getBoundingClientRect();
    return r.left >= svg.left - 1 && r.right <= svg.right + 1 && r.top >= svg.top - 1 && r.bottom <= svg.bottom + 1;
"#;

async fn open_graph(client: &Client, url: &str, query: &str) {
    client.goto(&format!("{url}graph{query}")).await.unwrap();
    wait_until(
        client,
        "the graph",
        "return document.querySelector('#graph svg') !== null && document.getElementById('status').textContent !== ''",
    )
    .await;
}

async fn graph_page(client: &Client, url: &str) {
    open_graph(client, url, "").await;
    // The texts' example is where the page opens; nothing is known before the first step.
    assert_eq!(text(client, "#grad-x").await, "?");
    for _ in 0..10 {
        if text(client, "#status").await == "backward pass complete" {
            break;
        }
        click(client, "step").await;
    }
    assert_eq!(text(client, "#status").await, "backward pass complete");
    let grads = [
        text(client, "#grad-x").await,
        text(client, "#grad-y").await,
        text(client, "#grad-z").await,
    ];
    assert_eq!(
        grads,
        ["-4", "-4", "3"],
        "df/dx, df/dy, df/dz of (x + y) * z at x = -2, y = 5, z = -4"
    );
    // The rule behind the last step, said as the lecture says it.
    let rule = text(client, "#rule").await;
    assert!(rule.contains("d(x + y)/dx = 1"), "{rule}");
    assert_eq!(
        client.execute(PRODUCTS_CHECK_OUT, vec![]).await.unwrap(),
        "ok"
    );
    screenshot(client, "graph.png").await;

    // micrograd's neuron: short names, the rule of tanh with its number, products that
    // check out at full precision.
    open_graph(
        client,
        url,
        "?expr=tanh(x1*w1%20%2B%20x2*w2%20%2B%20b)&x1=2&x2=0&w1=-3&w2=1&b=6.8813735870195432",
    )
    .await;
    click(client, "step").await;
    let rule = text(client, "#rule").await;
    assert!(rule.contains("d tanh(n)/dn = 1 − o² = 0.5"), "{rule}");
    for _ in 0..10 {
        click(client, "step").await;
    }
    assert_eq!(
        client.execute(PRODUCTS_CHECK_OUT, vec![]).await.unwrap(),
        "ok"
    );
    assert_eq!(text(client, "#grad-w1").await, "1");
    assert_eq!(text(client, "#grad-x1").await, "-1.5");
    screenshot(client, "graph-neuron.png").await;

    // A value used twice shows both contributions adding up, and its two edges.
    open_graph(client, url, "?expr=a*a%2Bb&a=3&b=1").await;
    // a*a is drawn with two edges from a, apart (they were drawn as one line).
    let edges = client
        .execute(
            "const groups = {}; for (const p of document.querySelectorAll('#graph path[data-edge]')) { const [from, to] = p.dataset.edge.split('-'); (groups[from + '-' + to] ||= []).push(p.getAttribute('d')); } const twice = Object.values(groups).filter(g => g.length === 2); return [twice.length, twice.length ? new Set(twice[0]).size : 0]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(edges, json!([1, 2]));
    click(client, "play").await;
    wait_until(
        client,
        "playing to the end",
        "return document.getElementById('status').textContent === 'backward pass complete'",
    )
    .await;
    assert_eq!(text(client, "#grad-a").await, "6");
    let log = text(client, "#log").await;
    assert!(
        log.contains("(now 3 + 3 = 6)"),
        "the accumulation is shown: {log}"
    );

    // A 30-node graph fits the window, and the node being stepped stays in view.
    let expr = "tanh(a*tanh(x1*w1 + x2*w2 + b1) + c*tanh(x1*w3 + x2*w4 + b2) + d*tanh(x1*w5 + b3))";
    let query = format!("?expr={}", expr.replace('+', "%2B").replace(' ', "%20"));
    open_graph(client, url, &query).await;
    let nodes = client
        .execute(
            "return document.querySelectorAll('#graph g.node').length",
            vec![],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap();
    assert!(nodes >= 30, "{nodes} values");
    assert_eq!(
        client.execute(ALL_NODES_VISIBLE, vec![]).await.unwrap(),
        true,
        "the graph fits"
    );
    let steps = client
        .execute("return state.graph.backward_order.length", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap();
    for step in 1..=steps {
        click(client, "step").await;
        assert_eq!(
            client.execute(ACTIVE_NODE_VISIBLE, vec![]).await.unwrap(),
            true,
            "step {step} of {steps}: the active node is in view"
        );
    }
    screenshot(client, "graph-30.png").await;

    // Timing, reported (docs/BENCHMARKS.md), not asserted: drawing a 101-value graph after
    // its answer arrives, and one step of it.
    let terms = vec!["x*y"; 50].join("%2B");
    open_graph(client, url, &format!("?expr={terms}&x=1&y=2")).await;
    let ms = client
        .execute(
            "const t = performance.now(); stepOnce(); return [Number(document.getElementById('graph').dataset.renderMs), performance.now() - t]",
            vec![],
        )
        .await
        .unwrap();
    eprintln!(
        "graph page: a 101-value graph drawn in {:.1} ms after the answer, one step in {:.1} ms",
        ms[0].as_f64().unwrap_or(f64::NAN),
        ms[1].as_f64().unwrap_or(f64::NAN)
    );
}

/// A syntax error is pointed at under the box (last: the API's 400 answer is logged by the
/// browser's console, as any failed request is).
async fn graph_page_error(client: &Client, url: &str) {
    client
        .goto(&format!("{url}graph?expr=x%20%2B%20*%20y"))
        .await
        .unwrap();
    wait_until(
        client,
        "the error",
        "return document.getElementById('error').textContent.length > 0",
    )
    .await;
    let error = text(client, "#error").await;
    assert!(
        error.contains("expected a number, name or `(`") && error.contains('^'),
        "{error}"
    );
    // A graph that worked, then an error: the stale graph is dimmed, its gradients unknown.
    open_graph(client, url, "?expr=x1*w1&x1=2&w1=3").await;
    click(client, "step").await;
    client
        .execute(
            "const e = document.getElementById('expr'); e.value = 'x1 + * w1'; document.querySelector('#form button').click();",
            vec![],
        )
        .await
        .unwrap();
    wait_until(
        client,
        "the error",
        "return document.getElementById('error').textContent.length > 0",
    )
    .await;
    let stale = client
        .execute(
            "return [document.getElementById('graph').classList.contains('stale'), !document.getElementById('stale-note').hidden, [...document.querySelectorAll('#grads td.grad')].every(td => td.textContent === '?'), document.getElementById('step').disabled]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(stale, json!([true, true, true, true]));
}

/// Draws the 28x28 `digit` on the page's 280x280 canvas, one horizontal stroke per run of ink
/// in each row.
async fn draw(client: &Client, digit: &[u8]) {
    let pad = client.find(Locator::Id("pad")).await.unwrap();
    let mut mouse = MouseActions::new("mouse".into());
    for row in 0..28 {
        let mut col = 0;
        while col < 28 {
            if digit[row * 28 + col] < 128 {
                col += 1;
                continue;
            }
            let start = col;
            while col < 28 && digit[row * 28 + col] >= 128 {
                col += 1;
            }
            let (y, x0, x1) = (
                row as f64 * 10.0 - 135.0,
                start as f64 * 10.0 - 135.0,
                (col - 1) as f64 * 10.0 - 135.0,
            );
            mouse = mouse
                .then(PointerAction::MoveToElement {
                    element: pad.clone(),
                    duration: None,
                    x: x0,
                    y,
                })
                .then(PointerAction::Down {
                    button: MOUSE_BUTTON_LEFT,
                })
                .then(PointerAction::MoveToElement {
                    element: pad.clone(),
                    duration: Some(Duration::from_millis(20)),
                    x: x1,
                    y,
                })
                .then(PointerAction::Up {
                    button: MOUSE_BUTTON_LEFT,
                });
        }
    }
    client.perform_actions(mouse).await.unwrap();
}

async fn digits_page(client: &Client, url: &str) {
    use scratchgrad::data::{Dataset, DatasetName, Split};
    let test = Dataset::load(DatasetName::MnistMini, Split::Test, Path::new("")).unwrap();
    client.goto(&format!("{url}digits")).await.unwrap();
    wait_until(
        client,
        "the model list",
        "return document.querySelectorAll('#model option').length > 0",
    )
    .await;
    draw(client, test.image(0)).await;
    wait_until(
        client,
        "a prediction",
        "return document.getElementById('prediction').textContent !== '?'",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await; // the last stroke's answer
    let ms = client
        .execute("return window.scratchgradPredictMs", vec![])
        .await
        .unwrap();
    let ms = ms.as_f64().unwrap_or(f64::NAN);
    eprintln!("digits page: prediction round trip {ms:.1} ms (the last stroke's)");
    let predicted = text(client, "#prediction").await;
    assert_eq!(
        predicted,
        test.labels[0].to_string(),
        "the drawn test digit (a {})",
        test.labels[0]
    );
    // The stroke has ended: the whole story arrives. An MLP's hidden unit shows the weights
    // it looks through.
    wait_until(client, "the layers", "return explained !== null").await;
    client
        .execute("document.querySelectorAll('#inside .unit')[3].dispatchEvent(new MouseEvent('mouseenter'))", vec![])
        .await
        .unwrap();
    wait_until(
        client,
        "a unit's weights",
        "return document.querySelector('#detail canvas') !== null",
    )
    .await;
    assert!(text(client, "#detail").await.contains("hidden unit 3"));
    screenshot(client, "digits.png").await;

    // A CNN: every layer for the drawn digit, the kernels beside the first convolution's
    // maps, and the arithmetic behind one pixel.
    client
        .execute("explained = null; const m = document.getElementById('model'); m.value = 'mini-cnn'; m.dispatchEvent(new Event('change'));", vec![])
        .await
        .unwrap();
    wait_until(
        client,
        "the CNN's layers",
        "return explained !== null && explained.explain.layers.some(l => l.kind === 'conv')",
    )
    .await;
    let shown = client
        .execute("return [document.querySelectorAll('#inside .layer-row').length, document.querySelectorAll('#inside canvas.feature').length, document.querySelectorAll('#inside canvas.kernel').length]", vec![])
        .await
        .unwrap();
    assert!(
        shown[0].as_u64().unwrap() >= 4 && shown[1].as_u64().unwrap() >= 8 && shown[2] == 4,
        "{shown}"
    );
    client
        .execute(
            "const c = document.querySelector('#inside canvas.feature'); const r = c.getBoundingClientRect(); c.dispatchEvent(new MouseEvent('click', {clientX: r.left + r.width / 2, clientY: r.top + r.height / 2}));",
            vec![],
        )
        .await
        .unwrap();
    let story = text(client, "#detail").await;
    let numbers: Vec<f64> = story
        .rsplit_once(" = ")
        .map(|(_, tail)| {
            tail.replace("(the map says ", "")
                .replace(')', "")
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        numbers.len() == 2 && (numbers[0] - numbers[1]).abs() < 2e-4,
        "the window times the kernel plus the bias is the map's pixel: {story}"
    );
    // The saliency map is the slope of the class's logit: check one pixel by finite
    // differences, through the same API with the input given directly.
    let check = client
        .execute(
            r#"
            const r = explained, s = r.explain.saliency, h = 1e-3;
            let k = -1;
            for (let i = 0; i < 784; i++) {
              if (r.input[i] < h || r.input[i] > 1 - h) continue;
              if (k < 0 || Math.abs(s.values[i]) > Math.abs(s.values[k])) k = i;
            }
            const logit = (v) => { const x = r.input.slice(); x[k] = v;
              return api('/api/predict', {model: 'mini-cnn', input: x}).then(a => a.logits[s.class]); };
            return Promise.all([logit(r.input[k] + h), logit(r.input[k] - h)])
              .then(([up, down]) => [(up - down) / (2 * h), s.values[k], k]);
            "#,
            vec![],
        )
        .await
        .unwrap();
    let (slope, saliency) = (check[0].as_f64().unwrap(), check[1].as_f64().unwrap());
    assert!(
        (slope - saliency).abs() <= 0.05 * saliency.abs() + 0.01 && saliency.abs() > 0.01,
        "pixel {}: saliency {saliency} vs finite differences {slope}",
        check[2]
    );
    eprintln!(
        "digits page: saliency {saliency:.5} vs finite differences {slope:.5} at pixel {}",
        check[2]
    );
    screenshot(client, "digits-cnn.png").await;
}

/// Runs the playground on the moons until it classifies over 90% of its training points,
/// reads the test accuracy, changes the learning rate mid-run and checks the curve's steps
/// only go forward, adds a point with a click and one with the keyboard, and reads a weight's
/// gradient from the network's picture.
async fn playground_page(client: &Client, url: &str) {
    client.goto(&format!("{url}playground")).await.unwrap();
    wait_until(
        client,
        "a playground session",
        "return typeof session !== 'undefined' && session !== null",
    )
    .await;
    click(client, "run").await;
    wait_until(
        client,
        "the accuracy to pass 90%",
        "return session.accuracy > 0.9 && document.getElementById('accuracy').textContent !== '-'",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await; // a steady rate to read
    let rate = text(client, "#rate-shown").await;
    let timings = client
        .execute("return window.scratchgradTimings", vec![])
        .await
        .unwrap();
    eprintln!(
        "playground page: {rate} (2-16-16-1 on 100 moons, 5 steps per update; mean per update: {:.1} ms for the request, {:.1} ms drawing)",
        timings["request"].as_f64().unwrap_or(f64::NAN),
        timings["draw"].as_f64().unwrap_or(f64::NAN)
    );
    let shown = text(client, "#accuracy").await;
    let percent: f64 = shown.trim_end_matches('%').parse().unwrap();
    assert!(percent > 90.0, "the page shows accuracy {shown}");
    let test = text(client, "#test-accuracy").await;
    assert!(test.ends_with('%'), "the test accuracy is shown: {test}");
    // A new learning rate mid-run: the curve goes on from where it was (it once drew lines
    // back to step 0).
    client
        .execute("const lr = document.getElementById('lr'); lr.value = '0.1'; lr.dispatchEvent(new Event('change'));", vec![])
        .await
        .unwrap();
    let forward =
        "return history.length > 1 && history.every((h, i) => i === 0 || h[0] > history[i - 1][0])";
    tokio::time::sleep(Duration::from_millis(1000)).await;
    wait_until(
        client,
        "the run to go on after the change",
        "return running",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        client.execute(forward, vec![]).await.unwrap(),
        true,
        "steps strictly increase"
    );
    screenshot(client, "playground.png").await;
    click(client, "pause").await;
    wait_until(client, "the pause", "return !running && !busy").await;
    assert_eq!(text(client, "#rate-shown").await, "", "no rate once paused");
    let count = "return fetch('/api/playground/' + session.id).then(r => r.json()).then(s => s.points.length)";
    let before = client
        .execute(count, vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap();
    // The middle of the moons' view, between the two moons: no point there to remove.
    click(client, "plane").await;
    wait_until(
        client,
        "the clicked point",
        &format!("return fetch('/api/playground/' + session.id).then(r => r.json()).then(s => s.points.length === {before} + 1)"),
    )
    .await;
    let added = "return fetch('/api/playground/' + session.id).then(r => r.json()).then(s => s.points[s.points.length - 1])";
    let point = client.execute(added, vec![]).await.unwrap();
    let (x, y, label) = (
        point[0].as_f64().unwrap(),
        point[1].as_f64().unwrap(),
        point[2].as_f64().unwrap(),
    );
    assert!(
        (x - 0.5).abs() < 0.05 && (y - 0.25).abs() < 0.05 && label == 1.0,
        "the clicked point is {point}"
    );
    assert_eq!(
        client.execute(forward, vec![]).await.unwrap(),
        true,
        "steps strictly increase"
    );
    // The keyboard's way: focus the plane, move the cursor, Enter adds a point.
    client
        .execute("const p = document.getElementById('plane'); p.focus(); for (const key of ['ArrowUp', 'ArrowUp', 'Enter']) p.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true}));", vec![])
        .await
        .unwrap();
    wait_until(
        client,
        "the keyboard's point",
        &format!("return fetch('/api/playground/' + session.id).then(r => r.json()).then(s => s.points.length === {before} + 2)"),
    )
    .await;
    // The network's picture: a click on a weight reads it and its gradient.
    client
        .execute(
            "document.querySelector('#network path.weight').dispatchEvent(new MouseEvent('click'))",
            vec![],
        )
        .await
        .unwrap();
    let selected = text(client, "#selected").await;
    assert!(
        selected.contains("the weight from input x to neuron 1 of layer 1")
            && selected.contains("d(loss)/d(w) for the last batch = "),
        "{selected}"
    );
    // The inputs are named beside their tiles, as TensorFlow Playground names them.
    let inputs = client
        .execute("return [...document.querySelectorAll('#network .input-label')].map(t => t.textContent)", vec![])
        .await
        .unwrap();
    assert_eq!(inputs, json!(["x", "y"]));
    // A new network mid-run: training starts again from step 0 and goes on, and says so.
    click(client, "run").await;
    wait_until(client, "the run", "return running").await;
    client
        .execute("const h = document.getElementById('hidden'); h.value = '8'; h.dispatchEvent(new Event('change'));", vec![])
        .await
        .unwrap();
    wait_until(
        client,
        "the note on the new network",
        "return document.getElementById('note').textContent.includes('training again from step 0')",
    )
    .await;
    wait_until(
        client,
        "the new network training",
        "return running && session.sizes.join(',') === '2,8,1' && session.step > 0",
    )
    .await;
    click(client, "pause").await;
    wait_until(client, "the pause", "return !running && !busy").await;
}

/// Starts a 3-epoch CNN run on mnist-mini from the dashboard, sees its curve receive points,
/// reloads the page mid-run and sees the history again, stops it after an epoch, resumes it
/// to the end, and finds its files in the runs folder.
async fn dashboard_page(client: &Client, url: &str, runs: &Path) {
    client.goto(&format!("{url}dashboard")).await.unwrap();
    wait_until(
        client,
        "the list of runs",
        "return document.getElementById('runs-folder').textContent !== ''",
    )
    .await;
    client
        .execute(
            "document.getElementById('dataset').value = 'mnist-mini';
             document.getElementById('arch').value = 'cnn';
             document.getElementById('epochs').value = '3';",
            vec![],
        )
        .await
        .unwrap();
    click(client, "start").await;
    let points = "return live && live.batches.length";
    wait_until(
        client,
        "points on the curve",
        "return live !== null && live.batches.length >= 3",
    )
    .await;
    let before = client
        .execute(points, vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap();
    client.refresh().await.unwrap();
    wait_until(
        client,
        "the history after a reload",
        &format!("return live !== null && live.batches.length >= {before}"),
    )
    .await;
    let long = Duration::from_secs(120);
    wait_at_most(
        client,
        "a complete epoch",
        "return live.history.length >= 1",
        long,
    )
    .await;
    // The live pictures' addresses name the run (a browser keeps images by address: a new
    // run's first epoch showed the last run's pictures).
    wait_until(
        client,
        "the live pictures",
        "return document.querySelectorAll('#live-pictures img').length >= 2",
    )
    .await;
    let run_named = client
        .execute(
            "return [...document.querySelectorAll('#live-pictures img')].every(i => i.src.includes('run=' + encodeURIComponent(live.run)))",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(run_named, true);
    // The running curve goes on across epochs, in order (it once kept one epoch's points,
    // a single dot for most of an epoch).
    wait_until(
        client,
        "a batch of epoch 2",
        "return live.batches.length > 0 && live.batches[live.batches.length - 1].epoch >= 2",
    )
    .await;
    let in_order = client
        .execute(
            "const x = b => b.epoch - 1 + b.batch / b.batches; return live.batches.some(b => b.epoch === 1) && live.batches.every((b, i) => i === 0 || x(b) > x(live.batches[i - 1]))",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(in_order, true);
    // The network's health: its ReLUs' outputs, its weights' gradients, the update sizes.
    wait_until(
        client,
        "the health panel",
        "return document.querySelectorAll('#activations canvas').length === 2 && document.querySelectorAll('#gradients canvas').length === 3 && live.ratios.length > 0",
    )
    .await;
    // mnist-mini has 5,000 training images: the probe looks at one in 128 of them.
    assert_eq!(text(client, "#health-images").await, "39");
    screenshot(client, "dashboard.png").await;
    click(client, "stop").await;
    wait_at_most(
        client,
        "the run to stop",
        "return live.status === 'stopped'",
        long,
    )
    .await;
    let run = client.execute("return live.run", vec![]).await.unwrap();
    let run = run.as_str().unwrap().to_string();
    let message = text(client, "#message").await;
    assert!(message.contains("resume with"), "after Stop: {message}");
    let progress = text(client, "#progress-text").await;
    assert!(!progress.contains("ETA"), "after Stop: {progress}");
    click(client, "resume").await;
    wait_at_most(
        client,
        "the resumed run to finish",
        "return live.status === 'finished'",
        long,
    )
    .await;
    let message = text(client, "#message").await;
    assert!(message.starts_with("finished: test accuracy"), "{message}");
    // The page that asked for the resume has the epochs from before it (they once vanished
    // until a reload).
    let followed = client
        .execute("return live.history.map(m => m.epoch)", vec![])
        .await
        .unwrap();
    assert_eq!(followed, json!([1, 2, 3]));
    let folder = runs.join(&run);
    for file in [
        "model.safetensors",
        "metrics.jsonl",
        "summary.json",
        "filters.png",
    ] {
        assert!(folder.join(file).is_file(), "{run}/{file} is missing");
    }
    let epochs = std::fs::read_to_string(folder.join("metrics.jsonl")).unwrap();
    assert_eq!(epochs.lines().count(), 3);
    // A page that opens after the resumed run has every epoch, the earlier ones included
    // (they once vanished from the curve after a reload).
    client.refresh().await.unwrap();
    // The page knows the run's status before its snapshot arrives: wait for the snapshot.
    wait_until(
        client,
        "the snapshot",
        "return live !== null && live.snapshots > 0 && live.status === 'finished'",
    )
    .await;
    let epochs_shown = client
        .execute("return live.history.map(m => m.epoch)", vec![])
        .await
        .unwrap();
    assert_eq!(epochs_shown, json!([1, 2, 3]));
    client
        .execute("document.querySelector('#health').scrollIntoView()", vec![])
        .await
        .unwrap();
    screenshot(client, "dashboard-health.png").await;
    // The run is listed; opening it draws its curves and shows its pictures.
    wait_until(
        client,
        "the run in the list",
        &format!("return [...document.querySelectorAll('#runs td')].some(td => td.textContent === '{run}')"),
    )
    .await;
    client
        .find(Locator::Css("#runs tr"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until(
        client,
        "the opened run's pictures",
        "return document.querySelectorAll('#opened-pictures img').length >= 3",
    )
    .await;
    screenshot(client, "dashboard-finished.png").await;
}

/// The text page as a learner uses it: a GPT on names writes greedily after a prompt, the
/// bars and attention maps show each step, a click on a bar rewrites that character, and Play
/// goes on until the model ends the name.
async fn text_page(client: &Client, url: &str, without_models: &str) {
    // Without a language model, the page says how to train one (and its buttons are off).
    client.goto(&format!("{without_models}text")).await.unwrap();
    wait_until(
        client,
        "the hint",
        "return document.getElementById('message').textContent.includes('no language model in')",
    )
    .await;
    client.goto(&format!("{url}text")).await.unwrap();
    wait_until(
        client,
        "the models",
        "return document.querySelectorAll('#model option').length > 0",
    )
    .await;
    client
        .execute(
            "document.getElementById('temperature').value = '0';
             const p = document.getElementById('prompt'); p.value = 'em';
             p.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .unwrap();
    click(client, "step").await;
    wait_until(
        client,
        "the first step",
        "return document.querySelectorAll('#bars div[data-index]').length > 0",
    )
    .await;
    // Greedy: the character written is the first bar (the likeliest), drawn at 100%.
    let step = client
        .execute(
            "const rows = [...document.querySelectorAll('#bars div[data-index]')];
             const picked = rows.findIndex(r => r.classList.contains('picked'));
             return [document.getElementById('written').textContent, picked, rows[0].textContent,
                     document.querySelectorAll('#attention canvas').length,
                     document.getElementById('attention-panel').hidden];",
            vec![],
        )
        .await
        .unwrap();
    let written = step[0].as_str().unwrap();
    assert!(
        written.starts_with("em") && written.chars().count() == 3,
        "{step}"
    );
    assert_eq!(step[1], 0, "{step}");
    assert!(step[2].as_str().unwrap().contains("100.0%"), "{step}");
    // One block of two heads.
    assert_eq!(
        (step[3].as_u64(), step[4].as_bool()),
        (Some(2), Some(false)),
        "{step}"
    );
    // A click on the second bar writes its character there instead.
    let second = client
        .execute(
            "return document.querySelectorAll('#bars div[data-index]')[1].querySelector('span').textContent;",
            vec![],
        )
        .await
        .unwrap();
    let second = second.as_str().unwrap().to_string();
    client
        .execute(
            "document.querySelectorAll('#bars div[data-index]')[1].click();",
            vec![],
        )
        .await
        .unwrap();
    let want = if second == "end" {
        "em (end)".to_string()
    } else {
        format!("em{second}")
    };
    wait_until(
        client,
        "the rewritten character",
        &format!("return document.getElementById('written').textContent === {want:?}"),
    )
    .await;
    if second == "end" {
        click(client, "restart").await;
    }
    click(client, "play").await;
    wait_until(
        client,
        "the end of the name",
        "return document.getElementById('message').textContent.includes('ended the name')",
    )
    .await;
    let written = text(client, "#written").await;
    assert!(
        written.ends_with("(end)") && written.len() < 60,
        "{written}"
    );
    assert_eq!(text(client, "#play").await, "Play");
    screenshot(client, "text.png").await;
}

/// `scratchgrad serve` on `runs`: the running server and its address.
fn serve(runs: &Path) -> (Running, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(["serve", "--port", "0", "--runs"])
        .arg(runs)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    (Running(server), url)
}

/// With no model yet, the digits page says how to train one where this server looks (it
/// once suggested a command that wrote elsewhere).
async fn no_models_yet(client: &Client, url: &str, runs: &Path) {
    client.goto(&format!("{url}digits")).await.unwrap();
    wait_until(
        client,
        "the hint",
        "return document.getElementById('message').textContent.length > 0",
    )
    .await;
    let hint = text(client, "#message").await;
    let want = format!("--out {}/first", runs.display());
    assert!(hint.contains(&want), "{hint}");
}

/// Every page at 800x600: usable without scrolling sideways; screenshots of each.
async fn small_window(client: &Client, url: &str) {
    client.set_window_size(800, 600).await.unwrap();
    for page in ["graph", "playground", "dashboard", "digits", "text"] {
        client.goto(&format!("{url}{page}")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(800)).await;
        let widths = client
            .execute("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]", vec![])
            .await
            .unwrap();
        assert!(
            widths[0].as_u64() <= widths[1].as_u64(),
            "/{page} scrolls sideways at 800x600: {widths}"
        );
        screenshot(client, &format!("{page}-800.png")).await;
    }
    client.set_window_size(1400, 1000).await.unwrap();
}

#[test]
#[cfg_attr(
    no_browser,
    ignore = "needs chromium and chromedriver (apt-get install chromium chromium-driver; .ci/run installs them)"
)]
fn the_pages_work_in_chromium() {
    // A model for the digits page.
    let runs = temp_dir("browser-runs");
    let trained = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(train_args(&runs.join("mini-mlp"), &["--epochs", "5"]))
        .output()
        .unwrap();
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let cnn = "conv4k5p2,relu,maxpool2,flatten,linear10";
    let trained = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(train_args(
            &runs.join("mini-cnn"),
            &["--layers", cnn, "--epochs", "1"],
        ))
        .output()
        .unwrap();
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let (_server, url) = serve(&runs);
    // A small GPT on names for the text page, in a folder of its own.
    let text_runs = temp_dir("browser-text-runs");
    let trained = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args([
            "train",
            "--quiet",
            "--dataset",
            "names-mini",
            "--arch",
            "gpt",
            "--steps",
            "200",
            "--lr",
            "0.003",
            "--embedding",
            "16",
            "--blocks",
            "1",
            "--heads",
            "2",
            "--out",
        ])
        .arg(text_runs.join("names-gpt"))
        .output()
        .unwrap();
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let (_text_server, text_url) = serve(&text_runs);
    let empty = temp_dir("browser-no-runs");
    let (_empty_server, empty_url) = serve(&empty);
    let browser = Browser::launch("pages");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = browser.connect((1400, 1000)).await;
        graph_page(&client, &url).await;
        digits_page(&client, &url).await;
        playground_page(&client, &url).await;
        dashboard_page(&client, &url, &runs).await;
        no_models_yet(&client, &empty_url, &empty).await;
        text_page(&client, &text_url, &url).await;
        small_window(&client, &url).await;
        let errors = console_errors(&client).await;
        graph_page_error(&client, &url).await;
        client.close().await.unwrap();
        assert!(errors.is_empty(), "console errors: {errors:?}");
    });
}
