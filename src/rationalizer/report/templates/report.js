// The example browser: filters, sorts and pages the examples embedded as JSON (see
// rationalizer/report/examples.py for their layout) and renders only the current page, so
// thousands of long documents stay responsive. Every text is escaped before it reaches
// innerHTML.
(function () {
  "use strict";
  const started = performance.now();
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const parsed = performance.now();

  const list = document.getElementById("example-list");
  const controls = {
    form: document.getElementById("controls"),
    run: document.getElementById("run"),
    outcome: document.getElementById("outcome"),
    goldLabel: document.getElementById("gold-label"),
    predictedLabel: document.getElementById("predicted-label"),
    order: document.getElementById("order"),
    search: document.getElementById("search"),
    pageSize: document.getElementById("page-size"),
  };
  const pagers = Array.from(document.querySelectorAll(".pager"));
  const state = { page: 0, matching: [] };
  const SEARCH_DELAY_MS = 150;
  const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (character) => ESCAPES[character]);
  }

  function count(number) {
    return number.toLocaleString("en-US");
  }

  function runIndex() {
    return controls.run ? Number(controls.run.value) : 0;
  }

  function searchText(example) {
    if (example.searchText === undefined) {
      const documents = example.docs.map((doc) => doc.words.join(" "));
      example.searchText = [example.id, example.query || "", ...documents].join("\n").toLowerCase();
    }
    return example.searchText;
  }

  function keeps(example, prediction, query) {
    if (!prediction) return false;
    const gold = controls.goldLabel.value;
    const predicted = controls.predictedLabel.value;
    const outcome = controls.outcome.value;
    if (gold && example.label !== gold) return false;
    if (predicted && prediction.pred !== predicted) return false;
    if (outcome !== "all") {
      if (prediction.pred === null) return false;
      if ((prediction.pred === example.label) !== (outcome === "correct")) return false;
    }
    return !query || searchText(example).includes(query);
  }

  // Examples without a token F1 (nothing marked) go last in both F1 orders; ties keep
  // dataset order.
  function byF1(run, sign) {
    return (a, b) => {
      const fa = data.examples[a].runs[run].f1;
      const fb = data.examples[b].runs[run].f1;
      if (fa === null || fb === null) return (fa === null) - (fb === null) || a - b;
      return sign * (fa - fb) || a - b;
    };
  }

  function select() {
    const run = runIndex();
    const query = controls.search.value.trim().toLowerCase().replace(/\s+/g, " ");
    const matching = [];
    data.examples.forEach((example, index) => {
      if (keeps(example, example.runs[run], query)) matching.push(index);
    });
    const order = controls.order.value;
    if (order !== "dataset") matching.sort(byF1(run, order === "worst-f1" ? 1 : -1));
    state.matching = matching;
    state.page = 0;
  }

  // Words in runs of equal highlighting become one element each: a few hundred elements for
  // a long review instead of one per word.
  function highlight(words, layers) {
    const cuts = new Set([0, words.length]);
    layers.forEach((layer) => layer.spans.forEach((offset) => cuts.add(offset)));
    const bounds = Array.from(cuts).sort((a, b) => a - b);
    const next = layers.map(() => 0);
    const parts = [];
    for (let i = 0; i + 1 < bounds.length; i += 1) {
      const start = bounds[i];
      const end = bounds[i + 1];
      const on = layers.filter((layer, k) => {
        while (next[k] < layer.spans.length && layer.spans[next[k] + 1] <= start) next[k] += 2;
        return next[k] < layer.spans.length && layer.spans[next[k]] <= start;
      });
      const text = escapeHtml(words.slice(start, end).join(" "));
      if (on.length === 0) {
        parts.push(text);
      } else {
        const classes = on.map((layer) => layer.name).join(" ");
        const title = on.map((layer) => layer.title).join(", ");
        parts.push(
          `<span class="hl ${classes}" data-start="${start}" data-end="${end}" ` +
            `title="${title}">${text}</span>`,
        );
      }
    }
    return parts.join(" ");
  }

  function selectedWords(spans) {
    let total = 0;
    for (let k = 0; k < spans.length; k += 2) total += spans[k + 1] - spans[k];
    return total;
  }

  function facts(example, prediction) {
    const items = [`gold <strong>${escapeHtml(example.label)}</strong>`];
    if (prediction.pred !== null) {
      const outcome = prediction.pred === example.label ? "correct" : "incorrect";
      items.push(
        `predicted <strong class="outcome ${outcome}">${escapeHtml(prediction.pred)}</strong>`,
      );
    }
    if (prediction.probs) {
      const probabilities = prediction.probs
        .map((p, k) => (p === null ? null : `${escapeHtml(data.labels[k])} ${p.toFixed(2)}`))
        .filter((text) => text !== null);
      items.push(`probabilities ${probabilities.join(", ")}`);
    }
    if (prediction.f1 !== null) items.push(`token F1 ${prediction.f1.toFixed(2)}`);
    const selected = prediction.spans.reduce((sum, spans) => sum + selectedWords(spans), 0);
    const words = example.docs.reduce((sum, doc) => sum + doc.words.length, 0);
    items.push(`${count(selected)} of ${count(words)} words selected`);
    return items.join(" · ");
  }

  function card(index, run) {
    const example = data.examples[index];
    const prediction = example.runs[run];
    const query = example.query ? `<p class="query">${escapeHtml(example.query)}</p>` : "";
    const documents = example.docs.map((doc, k) => {
      const layers = [
        { name: "p", title: "predicted rationale", spans: prediction.spans[k] },
        { name: "g", title: "gold rationale", spans: doc.gold },
        { name: "s", title: "shortcut phrase", spans: doc.shortcut },
      ];
      const docid = example.docs.length > 1 ? `<span class="docid">${escapeHtml(doc.docid)}</span>` : "";
      return (
        `<p class="doc" data-docid="${escapeHtml(doc.docid)}">${docid}` +
        `${highlight(doc.words, layers)}</p>`
      );
    });
    return (
      `<article class="example" data-id="${escapeHtml(example.id)}" data-index="${index}">` +
      `<header><h3>${escapeHtml(example.id)}</h3>` +
      `<span class="facts">${facts(example, prediction)}</span></header>` +
      `${query}${documents.join("")}</article>`
    );
  }

  function render() {
    const size = Number(controls.pageSize.value);
    const total = state.matching.length;
    const pages = Math.max(1, Math.ceil(total / size));
    state.page = Math.max(0, Math.min(state.page, pages - 1));
    const first = state.page * size;
    const shown = state.matching.slice(first, first + size);
    const run = runIndex();
    list.innerHTML = shown.length
      ? shown.map((index) => card(index, run)).join("")
      : '<p class="empty">No example matches these filters.</p>';
    const all = count(data.examples.length);
    const info = total
      ? `Examples ${count(first + 1)}–${count(first + shown.length)} of ${count(total)} ` +
        `matching (${all} in all), page ${count(state.page + 1)} of ${count(pages)}`
      : `No matching example (${all} in all)`;
    pagers.forEach((pager) => {
      pager.querySelector(".page-info").textContent = info;
      pager.querySelector(".previous").disabled = state.page === 0;
      pager.querySelector(".next").disabled = state.page >= pages - 1;
    });
  }

  // Filters that a results file cannot answer (no classification, no hard rationale) are off.
  function fitControlsToRun() {
    const run = data.runs[runIndex()];
    controls.outcome.disabled = !run.classes;
    controls.predictedLabel.disabled = !run.classes;
    controls.order.disabled = !run.hard;
    if (!run.classes) {
      controls.outcome.value = "all";
      controls.predictedLabel.value = "";
    }
    if (!run.hard) controls.order.value = "dataset";
  }

  function update() {
    select();
    render();
  }

  function turn(step, position) {
    state.page += step;
    render();
    if (position > 0) pagers[0].scrollIntoView({ block: "start" });
  }

  let searchTimer = null;
  controls.form.addEventListener("submit", (event) => event.preventDefault());
  controls.form.addEventListener("change", (event) => {
    if (event.target === controls.search) return;
    if (event.target === controls.run) fitControlsToRun();
    if (event.target === controls.pageSize) {
      state.page = 0;
      render();
    } else {
      update();
    }
  });
  controls.search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(update, SEARCH_DELAY_MS);
  });
  pagers.forEach((pager, position) => {
    pager.querySelector(".previous").addEventListener("click", () => turn(-1, position));
    pager.querySelector(".next").addEventListener("click", () => turn(1, position));
  });

  fitControlsToRun();
  update();
  window.reportTimings = {
    parseMs: parsed - started,
    firstRenderMs: performance.now() - started,
    examples: data.examples.length,
  };
  document.documentElement.dataset.ready = "true";
})();
