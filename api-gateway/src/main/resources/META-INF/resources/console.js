// The fleet's web console: plain JavaScript on the gateway's own API (/v1/models, /v1/jobs).
// Nothing is fetched from elsewhere but the images themselves (presigned S3 links).
'use strict';

(() => {
  // --- Strings: every one in English and Simplified Chinese ------------------------------------
  const STRINGS = {
    en: {
      skip: 'Skip to the prompt',
      tagline: 'Text to image on FLUX and NewBie-image models',
      language: 'Language',
      newImage: 'New image',
      prompt: 'Prompt',
      promptHint: 'Describe the image. Ctrl+Enter generates it.',
      model: 'Model',
      seed: 'Seed',
      random: 'Random',
      seedHint: '-1 picks a random seed; the one used is shown with the image.',
      size: 'Size',
      aspectRatio: 'Aspect ratio',
      custom: 'Custom',
      preset: 'Preset',
      width: 'Width',
      height: 'Height',
      sizeHint: '{min} to {max} px per side, in multiples of {multiple}.',
      steps: 'Steps',
      stepsSlider: 'Steps (slider)',
      guidance: 'Guidance',
      guidanceHint: "FLUX's distilled guidance: one pass per step, no negative prompt.",
      cfgScale: 'CFG scale',
      cfgScaleHint: 'Classifier-free guidance: how far the image is pushed from the negative prompt towards the prompt.',
      negativePrompt: 'Negative prompt',
      negativePromptHint: 'What the image should not have. Empty: none.',
      cfgTruncation: 'CFG truncation',
      cfgTruncationHint: "Model time (0 to 1) from which the negative prompt's pass is skipped, saving its time; 1 never skips. Empty: the model's default.",
      modelDefault: "model's default",
      negativeLine: 'Negative prompt: {text}',
      generate: 'Generate',
      submitting: 'Sending…',
      apiKey: 'API key',
      saveKey: 'Save key',
      keyHint: 'This gateway asks for an API key (./fleet up prints one; ./fleet keys create makes more). It is kept in this browser only.',
      keyNeeded: 'This gateway needs an API key: enter one below.',
      thisImage: 'This image',
      progress: 'Progress',
      cancel: 'Cancel',
      cancelling: 'Cancelling…',
      download: 'Download',
      copySeed: 'Copy seed',
      reuseSeed: 'Use this seed',
      again: 'Again with a new seed',
      copied: 'Seed {seed} copied.',
      seedSet: 'Seed {seed} is in the form.',
      history: 'History',
      show: 'Show',
      scopeMine: 'Only from this browser',
      scopeAll: 'Jobs of this account',
      refresh: 'Refresh',
      historyEmpty: 'No images yet.',
      open: 'Open',
      rerun: 'Re-run',
      apiDocs: 'API',
      'status.QUEUED': 'Queued',
      'status.RUNNING': 'Running',
      'status.SUCCEEDED': 'Done',
      'status.FAILED': 'Failed',
      'status.CANCELLED': 'Cancelled',
      'status.TIMED_OUT': 'Timed out',
      queued: 'Queued: position {pos} in line.',
      queuedNoPos: 'Queued.',
      retry: 'attempt {n}',
      starting: 'Starting…',
      stepOf: 'Step {step} of {steps}',
      perStep: '{s} s per step',
      left: 'about {s} s left',
      tookTotal: 'Took {s} s',
      succeeded: 'Done: {w} × {h}, seed {seed}.',
      cancelledAt: 'Cancelled at step {step} of {steps}.',
      failed: 'Failed: {message}',
      timedOut: 'Timed out.',
      fixFields: 'Please correct the marked fields.',
      unreachable: 'The gateway cannot be reached. Is the fleet running?',
      lost: 'Lost the connection to the job; trying again…',
      'param.model': 'Model',
      'param.size': 'Size',
      'param.steps': 'Steps',
      'param.guidance': 'Guidance',
      'param.cfgScale': 'CFG scale',
      'param.negativePrompt': 'Negative prompt',
      'param.cfgTruncation': 'CFG truncation',
      'param.seed': 'Seed',
      'param.loras': 'LoRAs',
      loras: 'LoRAs',
      loraPick: 'LoRA to add',
      loraAdd: 'Add',
      lorasHint: "Adapters from the fleet's LoRA directory, each at its strength (-2 to 2).",
      loraStrength: 'Strength of {name}',
      loraStrengthSlider: 'Strength of {name} (slider)',
      loraRemove: 'Remove {name}',
      loraMax: 'At most {max} LoRAs per image.',
      'param.prompt': 'Prompt',
      'param.time': 'Time',
      sizeValue: '{w} × {h}',
      presetValue: '{w} × {h}',
      thumbAlt: '',
    },
    'zh-CN': {
      skip: '跳到提示词',
      tagline: '用 FLUX 与 NewBie-image 模型把文字变成图像',
      language: '语言',
      newImage: '新图像',
      prompt: '提示词',
      promptHint: '描述想要的画面。按 Ctrl+Enter 即可生成。',
      model: '模型',
      seed: '种子',
      random: '随机',
      seedHint: '-1 表示随机种子；实际使用的种子会显示在图像旁。',
      size: '尺寸',
      aspectRatio: '宽高比',
      custom: '自定义',
      preset: '预设',
      width: '宽度',
      height: '高度',
      sizeHint: '每边 {min} 到 {max} 像素，须为 {multiple} 的倍数。',
      steps: '步数',
      stepsSlider: '步数（滑块）',
      guidance: '引导强度',
      guidanceHint: 'FLUX 的蒸馏引导：每步只算一遍，没有反向提示词。',
      cfgScale: 'CFG 引导系数',
      cfgScaleHint: '无分类器引导：让图像远离反向提示词、靠近提示词的力度。',
      negativePrompt: '反向提示词',
      negativePromptHint: '不希望出现在图像中的内容。留空表示没有。',
      cfgTruncation: 'CFG 截断',
      cfgTruncationHint: '模型时间（0 到 1）到达此值后不再计算反向提示词那一遍，以节省时间；1 表示从不跳过。留空则用模型的默认值。',
      modelDefault: '模型默认值',
      negativeLine: '反向提示词：{text}',
      generate: '生成图像',
      submitting: '正在提交…',
      apiKey: 'API 密钥',
      saveKey: '保存密钥',
      keyHint: '此网关需要 API 密钥（./fleet up 会打印一个；./fleet keys create 可再创建）。密钥只保存在本浏览器中。',
      keyNeeded: '此网关需要 API 密钥：请在下方输入。',
      thisImage: '本次图像',
      progress: '进度',
      cancel: '取消',
      cancelling: '正在取消…',
      download: '下载',
      copySeed: '复制种子',
      reuseSeed: '使用此种子',
      again: '换个种子再来一张',
      copied: '已复制种子 {seed}。',
      seedSet: '种子 {seed} 已填入表单。',
      history: '历史记录',
      show: '显示',
      scopeMine: '仅本浏览器提交的',
      scopeAll: '此账户的任务',
      refresh: '刷新',
      historyEmpty: '还没有图像。',
      open: '查看',
      rerun: '重新运行',
      apiDocs: 'API 文档',
      'status.QUEUED': '排队中',
      'status.RUNNING': '生成中',
      'status.SUCCEEDED': '已完成',
      'status.FAILED': '失败',
      'status.CANCELLED': '已取消',
      'status.TIMED_OUT': '已超时',
      queued: '排队中：第 {pos} 位（前面还有 {ahead} 个任务在排队）。',
      queuedNoPos: '排队中。',
      retry: '第 {n} 次尝试',
      starting: '正在启动…',
      stepOf: '第 {step} / {steps} 步',
      perStep: '每步 {s} 秒',
      left: '预计还需约 {s} 秒',
      tookTotal: '用时 {s} 秒',
      succeeded: '完成：{w} × {h}，种子 {seed}。',
      cancelledAt: '已在第 {step} / {steps} 步取消。',
      failed: '失败：{message}',
      timedOut: '已超时。',
      fixFields: '请修改标出的字段。',
      unreachable: '无法连接网关。舰队是否在运行？',
      lost: '与任务的连接中断，正在重试…',
      'param.model': '模型',
      'param.size': '尺寸',
      'param.steps': '步数',
      'param.guidance': '引导强度',
      'param.cfgScale': 'CFG 引导系数',
      'param.negativePrompt': '反向提示词',
      'param.cfgTruncation': 'CFG 截断',
      'param.seed': '种子',
      'param.loras': 'LoRA',
      loras: 'LoRA',
      loraPick: '要添加的 LoRA',
      loraAdd: '添加',
      lorasHint: '来自集群 LoRA 目录的适配器，各有强度（-2 到 2）。',
      loraStrength: '{name} 的强度',
      loraStrengthSlider: '{name} 的强度（滑块）',
      loraRemove: '移除 {name}',
      loraMax: '每张图像最多 {max} 个 LoRA。',
      'param.prompt': '提示词',
      'param.time': '用时',
      sizeValue: '{w} × {h}',
      presetValue: '{w} × {h}',
      thumbAlt: '',
    },
  };
  const LANGS = Object.keys(STRINGS);
  const STORE = {
    lang: 'fleet.console.lang',
    jobs: 'fleet.console.jobs',
    current: 'fleet.console.current',
    scope: 'fleet.console.scope',
    // Read by api(): when the gateway requires keys, the console keeps one here.
    key: 'fleet.apiKey',
  };
  const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);
  const FIELDS = ['prompt', 'negativePrompt', 'model', 'seed', 'width', 'height', 'steps', 'guidance', 'cfgTruncation'];
  // Shown only for a model with classifier-free guidance; each is in an element "<id>-field".
  const CFG_FIELDS = ['negativePrompt', 'cfgTruncation'];
  const RATIOS = [[1, 1], [3, 4], [4, 3], [9, 16], [16, 9]];
  const LONG_SIDES = [128, 256, 384, 512, 640, 768, 1024, 1280, 1536, 2048, 3072, 4096];
  const MAX_REMEMBERED = 100;

  const $ = (id) => document.getElementById(id);
  let lang = 'en';
  let registry = null; // GET /v1/models
  let loraLibrary = null; // GET /v1/loras
  let chosenLoras = []; // [{name, strength}] in the form
  let ratio = null; // [a, b] or null (custom)
  let current = null; // {id, job, stream, poll, timing}
  let lastView = null; // the latest whole JobView of the current job

  function t(key, params) {
    let s = STRINGS[lang][key];
    if (s === undefined) s = STRINGS.en[key];
    if (s === undefined) return key;
    if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (params[k] !== undefined ? params[k] : m));
    return s;
  }

  function pickLanguage() {
    const saved = localStorage.getItem(STORE.lang);
    if (saved && LANGS.includes(saved)) return saved;
    const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    for (const l of wanted) {
      if (!l) continue;
      const low = l.toLowerCase();
      if (low.startsWith('zh')) return 'zh-CN';
      if (low.startsWith('en')) return 'en';
    }
    return 'en';
  }

  function applyLanguage(next) {
    lang = next;
    document.documentElement.lang = lang;
    $('lang').value = lang;
    document.title = lang === 'en' ? 'fleet · text to image' : 'fleet · 文字生成图像';
    for (const el of document.querySelectorAll('[data-i18n]')) {
      el.textContent = t(el.dataset.i18n);
    }
    for (const el of document.querySelectorAll('[data-i18n-attr]')) {
      for (const pair of el.dataset.i18nAttr.split(';')) {
        const [attr, key] = pair.split(':');
        el.setAttribute(attr, t(key));
      }
    }
    if (registry) {
      renderRatios();
      renderPresets();
      renderSizeHint();
    }
    renderLoras();
    if (current) renderJob(); // status and timing lines
    renderHistory(historyCache);
  }

  // --- The API: one place that talks to the gateway ---------------------------------------------

  /** fetch() on the gateway, with the API key (when one is kept) as a Bearer token. */
  function api(path, options = {}) {
    const headers = new Headers(options.headers || {});
    const key = localStorage.getItem(STORE.key);
    if (key) headers.set('Authorization', 'Bearer ' + key);
    if (!headers.has('Accept')) headers.set('Accept', 'application/json, application/problem+json');
    return fetch(path, { ...options, headers }).then((r) => {
      if (r.status === 401) showKeyPanel();
      return r;
    });
  }

  async function apiJson(path, options) {
    const r = await api(path, options);
    let body = null;
    const text = await r.text();
    if (text) {
      try {
        body = JSON.parse(text);
      } catch (e) {
        body = { detail: text };
      }
    }
    return { status: r.status, ok: r.ok, body };
  }

  /**
   * The console link that ./fleet up prints carries the development key in its fragment
   * (/#key=...), which browsers never send to the server: keep the key, and take it out of the
   * address bar (and so out of bookmarks and the history).
   */
  function keyFromAddress() {
    const m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
    if (!m) return;
    localStorage.setItem(STORE.key, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }

  function showKeyPanel() {
    $('key-panel').hidden = false;
    showFormError(t('keyNeeded'));
  }

  /**
   * Server-Sent Events read through fetch (not EventSource, which cannot send an Authorization
   * header): calls onEvent(name, data) per event; resolves when the stream ends.
   */
  async function readEvents(path, onEvent, signal) {
    const r = await api(path, { headers: { Accept: 'text/event-stream' }, signal });
    if (!r.ok || !r.body) throw new Error('events: HTTP ' + r.status);
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let val = colon < 0 ? '' : line.slice(colon + 1);
          if (val.startsWith(' ')) val = val.slice(1);
          if (field === 'event') name = val;
          else if (field === 'data') data.push(val);
        }
        if (data.length) {
          try {
            onEvent(name, JSON.parse(data.join('\n')));
          } catch (e) {
            console.warn('bad event', e);
          }
        }
      }
    }
  }

  // --- The form: models, sizes, fields ----------------------------------------------------------

  function model() {
    return registry.models.find((m) => m.name === $('model').value) || registry.models[0];
  }

  /**
   * Whether a job's spec is of a model with classifier-free guidance (its guidance is then a CFG
   * scale): the registry says so; for a model no longer in it, the CFG fields the job carries do.
   */
  function specUsesCfg(spec) {
    const m = registry && registry.models.find((x) => x.name === spec.model);
    if (m) return Boolean(m.classifierFreeGuidance);
    return spec.negativePrompt != null || spec.cfgTruncation != null;
  }

  /** A label or hint whose string key depends on the model: set, and kept by applyLanguage. */
  function setText(id, key) {
    $(id).dataset.i18n = key;
    $(id).textContent = t(key);
  }

  /**
   * The guidance fields of the selected model: FLUX's distilled guidance alone, or a CFG scale
   * with a negative prompt and a truncation. The fields a model does not take are hidden, their
   * messages cleared, and readForm leaves them out (the gateway refuses them for FLUX).
   */
  function renderGuidanceFields() {
    const cfg = Boolean(model().classifierFreeGuidance);
    for (const f of CFG_FIELDS) {
      $(f + '-field').hidden = !cfg;
      if (!cfg) clearFieldError(f);
    }
    setText('guidance-label', cfg ? 'cfgScale' : 'guidance');
    setText('guidance-hint', cfg ? 'cfgScaleHint' : 'guidanceHint');
  }

  function gcd(a, b) {
    return b ? gcd(b, a % b) : a;
  }

  /** Sizes of exactly a:b, both sides multiples of the API's multiple, within the model's range. */
  function sizesFor(m, [a, b]) {
    const mult = registry.limits.sideMultiple;
    const lcm = (x, y) => (x * y) / gcd(x, y);
    const unit = lcm(mult / gcd(a, mult), mult / gcd(b, mult));
    const all = [];
    for (let k = unit; Math.max(a, b) * k <= m.maxSide; k += unit) {
      const w = a * k;
      const h = b * k;
      if (Math.min(w, h) >= m.minSide) all.push([w, h]);
    }
    if (all.length <= 8) return all;
    const picked = new Map();
    const d = m.defaults;
    const targets = LONG_SIDES.concat([Math.max(d.width, d.height)]);
    for (const target of targets) {
      let best = null;
      for (const s of all) if (Math.max(...s) <= target) best = s;
      if (best) picked.set(best.join('x'), best);
    }
    picked.set(all[0].join('x'), all[0]);
    picked.set(all[all.length - 1].join('x'), all[all.length - 1]);
    return [...picked.values()].sort((x, y) => x[0] * x[1] - y[0] * y[1]);
  }

  function ratioOf(w, h) {
    return RATIOS.find(([a, b]) => w * b === h * a) || null;
  }

  function renderModels() {
    const sel = $('model');
    sel.textContent = '';
    for (const m of registry.models) {
      const o = document.createElement('option');
      o.value = m.name;
      o.textContent = m.name;
      sel.append(o);
    }
    sel.value = registry.defaultModel;
  }

  function applyModelDefaults() {
    const m = model();
    const d = m.defaults;
    for (const id of ['width', 'height']) {
      $(id).min = m.minSide;
      $(id).max = m.maxSide;
      $(id).step = registry.limits.sideMultiple;
    }
    $('steps').min = m.minSteps;
    $('steps').max = m.maxSteps;
    $('steps-range').min = m.minSteps;
    $('steps-range').max = m.maxSteps;
    $('guidance').max = registry.limits.maxGuidance;
    $('seed').max = registry.limits.maxSeed;
    setSteps(d.steps);
    $('guidance').value = d.guidance;
    // Empty: the gateway leaves it out and the model's own truncation applies.
    $('cfgTruncation').value = '';
    setSize(d.width, d.height);
    renderSizeHint();
    renderGuidanceFields();
  }

  function setSteps(n) {
    $('steps').value = n;
    $('steps-range').value = n;
  }

  function setSize(w, h) {
    $('width').value = w;
    $('height').value = h;
    ratio = ratioOf(w, h);
    renderRatios();
    renderPresets();
  }

  function renderSizeHint() {
    const m = model();
    $('size-hint').textContent = t('sizeHint', {
      min: m.minSide,
      max: m.maxSide,
      multiple: registry.limits.sideMultiple,
    });
  }

  function renderRatios() {
    const box = $('ratios');
    const focused = document.activeElement && box.contains(document.activeElement);
    box.textContent = '';
    const m = model();
    const options = RATIOS.map((r) => ({ r, label: r[0] + ':' + r[1] }));
    options.push({ r: null, label: t('custom') });
    for (const { r, label } of options) {
      const id = 'ratio-' + (r ? r.join('-') : 'custom');
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'ratio';
      input.id = id;
      input.value = r ? r.join(':') : 'custom';
      input.checked = r ? ratio !== null && ratio[0] === r[0] && ratio[1] === r[1] : ratio === null;
      if (r && sizesFor(m, r).length === 0) input.disabled = true;
      input.addEventListener('change', () => chooseRatio(r));
      const lab = document.createElement('label');
      lab.htmlFor = id;
      lab.textContent = label;
      if (r) {
        const shape = document.createElement('span');
        shape.className = 'shape';
        shape.setAttribute('aria-hidden', 'true');
        const scale = 14 / Math.max(r[0], r[1]);
        shape.style.width = Math.round(r[0] * scale) + 'px';
        shape.style.height = Math.round(r[1] * scale) + 'px';
        lab.prepend(shape);
      }
      box.append(input, lab);
    }
    if (focused) {
      const checked = box.querySelector('input:checked');
      if (checked) checked.focus();
    }
  }

  function chooseRatio(r) {
    ratio = r;
    if (r) {
      const sizes = sizesFor(model(), r);
      const area = Number($('width').value) * Number($('height').value) || 1;
      let best = sizes[0];
      for (const s of sizes) {
        if (Math.abs(Math.log((s[0] * s[1]) / area)) < Math.abs(Math.log((best[0] * best[1]) / area))) best = s;
      }
      $('width').value = best[0];
      $('height').value = best[1];
    }
    renderPresets();
  }

  function renderPresets() {
    const sel = $('preset');
    sel.textContent = '';
    const w = Number($('width').value);
    const h = Number($('height').value);
    const sizes = ratio ? sizesFor(model(), ratio) : [];
    const here = sizes.some(([x, y]) => x === w && y === h);
    const list = here || !w || !h ? sizes : sizes.concat([[w, h]]);
    for (const [x, y] of list) {
      const o = document.createElement('option');
      o.value = x + 'x' + y;
      o.textContent = t('presetValue', { w: x, h: y });
      sel.append(o);
    }
    sel.value = w + 'x' + h;
    sel.disabled = !ratio;
  }

  function sizeTyped() {
    const w = Number($('width').value);
    const h = Number($('height').value);
    ratio = w && h ? ratioOf(w, h) : null;
    renderRatios();
    renderPresets();
  }

  function clearFieldError(f) {
    const err = $(f + '-error');
    const input = $(f);
    if (err) {
      err.hidden = true;
      err.textContent = '';
    }
    if (input) input.removeAttribute('aria-invalid');
  }

  function clearErrors() {
    for (const f of FIELDS) clearFieldError(f);
    $('form-error').hidden = true;
    $('form-error').textContent = '';
    $('loras-error').hidden = true;
    $('loras-error').textContent = '';
    for (const el of document.querySelectorAll('#loras [aria-invalid]')) el.removeAttribute('aria-invalid');
  }

  function showFormError(text) {
    $('form-error').textContent = text;
    $('form-error').hidden = false;
  }

  /** A problem detail: each named field's message next to the field, the rest above the button. */
  function showProblem(problem, status) {
    clearErrors();
    const errors = (problem && problem.errors) || [];
    let first = null;
    const unplaced = [];
    for (const e of errors) {
      const field = e.field;
      if (field && field.startsWith('loras') && !$('loras').hidden) {
        const lerr = $('loras-error');
        const which = /^loras\[(\d+)\]/.exec(field);
        const named = which && chosenLoras[Number(which[1])] ? chosenLoras[Number(which[1])].name + ': ' : '';
        lerr.textContent = (lerr.textContent ? lerr.textContent + ' ' : '') + named + e.message;
        lerr.hidden = false;
        const target = which && $('lora-strength-' + which[1]) && field.endsWith('.strength') ? $('lora-strength-' + which[1]) : $('lora-pick');
        target.setAttribute('aria-invalid', 'true');
        if (!first) first = target;
        continue;
      }
      // A field hidden for this model cannot show its message: it goes above the button.
      const err = FIELDS.includes(field) && !$(field).closest('[hidden]') ? $(field + '-error') : null;
      if (!err) {
        unplaced.push(field + ' ' + e.message);
        continue;
      }
      err.textContent = err.textContent ? err.textContent + ' ' + e.message : e.message;
      err.hidden = false;
      $(field).setAttribute('aria-invalid', 'true');
      if (!first) first = $(field);
    }
    const detail = (problem && (problem.detail || problem.title)) || 'HTTP ' + status;
    if (errors.length && !unplaced.length) {
      showFormError(t('fixFields') + (problem.type && problem.type.endsWith('too-large-for-gpus') ? ' ' + detail : ''));
    } else {
      showFormError(detail);
    }
    if (first) first.focus();
  }

  // --- LoRAs: picked from GET /v1/loras, each with its strength ---------------------------------

  async function loadLoras() {
    try {
      const r = await apiJson('/v1/loras');
      loraLibrary = r.ok && r.body ? r.body : null;
    } catch (e) {
      loraLibrary = null;
    }
    renderLoras();
  }

  function usableLoras() {
    return loraLibrary ? loraLibrary.loras.filter((l) => l.usable) : [];
  }

  function renderLoras() {
    const usable = usableLoras();
    const box = $('loras');
    box.hidden = usable.length === 0 && chosenLoras.length === 0;
    const max = loraLibrary ? loraLibrary.maxPerJob : 4;
    const maxStrength = loraLibrary ? loraLibrary.maxStrength : 2;
    const pick = $('lora-pick');
    const keep = pick.value;
    pick.textContent = '';
    for (const l of usable) {
      if (chosenLoras.some((c) => c.name === l.name)) continue;
      const o = document.createElement('option');
      o.value = l.name;
      o.textContent = l.name + (l.rank ? ' (' + l.format + ', r' + l.rank + ')' : '');
      pick.append(o);
    }
    if ([...pick.options].some((o) => o.value === keep)) pick.value = keep;
    $('lora-add').disabled = pick.options.length === 0 || chosenLoras.length >= max;
    const list = $('lora-list');
    list.textContent = '';
    chosenLoras.forEach((c, i) => {
      const li = document.createElement('li');
      li.className = 'lora';
      const name = document.createElement('span');
      name.className = 'lora-name';
      name.textContent = c.name;
      const range = document.createElement('input');
      range.type = 'range';
      range.min = -maxStrength;
      range.max = maxStrength;
      range.step = 0.05;
      range.value = c.strength;
      range.setAttribute('aria-label', t('loraStrengthSlider', { name: c.name }));
      const number = document.createElement('input');
      number.type = 'number';
      number.inputMode = 'decimal';
      number.min = -maxStrength;
      number.max = maxStrength;
      number.step = 0.05;
      number.value = c.strength;
      number.className = 'lora-strength';
      number.id = 'lora-strength-' + i;
      number.setAttribute('aria-label', t('loraStrength', { name: c.name }));
      range.addEventListener('input', () => {
        c.strength = Number(range.value);
        number.value = range.value;
      });
      number.addEventListener('input', () => {
        c.strength = number.value.trim() === '' ? undefined : Number(number.value);
        if (number.value.trim() !== '') range.value = number.value;
      });
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'secondary';
      remove.textContent = '×';
      remove.setAttribute('aria-label', t('loraRemove', { name: c.name }));
      remove.addEventListener('click', () => {
        chosenLoras.splice(chosenLoras.indexOf(c), 1);
        renderLoras();
        $('lora-pick').focus();
      });
      li.append(name, range, number, remove);
      list.append(li);
    });
    if (chosenLoras.length >= max) {
      $('loras-hint').textContent = t('loraMax', { max });
    } else {
      $('loras-hint').textContent = t('lorasHint');
    }
  }

  function addLora() {
    const name = $('lora-pick').value;
    if (!name || chosenLoras.some((c) => c.name === name)) return;
    chosenLoras.push({ name, strength: 1 });
    renderLoras();
    const last = $('lora-strength-' + (chosenLoras.length - 1));
    if (last) last.focus();
  }

  function readForm() {
    const num = (id) => {
      const v = $(id).value.trim();
      return v === '' ? undefined : Number(v);
    };
    const cfg = Boolean(model().classifierFreeGuidance);
    const negative = $('negativePrompt').value;
    return {
      prompt: $('prompt').value,
      // Only for a model with classifier-free guidance; an empty one is no negative prompt.
      negativePrompt: cfg && negative.trim() !== '' ? negative : undefined,
      cfgTruncation: cfg ? num('cfgTruncation') : undefined,
      model: $('model').value,
      seed: num('seed'),
      width: num('width'),
      height: num('height'),
      steps: num('steps'),
      guidance: num('guidance'),
      loras: chosenLoras.length
        ? chosenLoras.map((c) => (c.strength === undefined || Number.isNaN(c.strength) ? { name: c.name } : { name: c.name, strength: c.strength }))
        : undefined,
    };
  }

  function fillForm(spec) {
    $('prompt').value = spec.prompt;
    if (registry.models.some((m) => m.name === spec.model)) {
      $('model').value = spec.model;
      applyModelDefaults();
    }
    $('seed').value = spec.seed;
    setSteps(spec.steps);
    $('guidance').value = spec.guidance;
    $('negativePrompt').value = spec.negativePrompt || '';
    $('cfgTruncation').value = spec.cfgTruncation != null ? spec.cfgTruncation : '';
    setSize(spec.width, spec.height);
    chosenLoras = (spec.loras || []).map((l) => ({ name: l.name, strength: l.strength }));
    renderLoras();
  }

  function newKey() {
    return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
  }

  async function submit(body) {
    clearErrors();
    const btn = $('generate-btn');
    btn.setAttribute('aria-busy', 'true');
    btn.disabled = true;
    try {
      const clean = {};
      for (const [k, v] of Object.entries(body)) {
        if (v !== undefined && !(typeof v === 'number' && Number.isNaN(v))) clean[k] = v;
      }
      const r = await apiJson('/v1/jobs', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': newKey() },
        body: JSON.stringify(clean),
      });
      if (!r.ok) {
        showProblem(r.body, r.status);
        return;
      }
      remember(r.body.id);
      follow(r.body);
      refreshHistory();
    } catch (e) {
      showFormError(t('unreachable'));
    } finally {
      btn.disabled = false;
      btn.removeAttribute('aria-busy');
    }
  }

  // --- The current job: queue position, progress, result ---------------------------------------

  function remember(id) {
    const ids = rememberedIds().filter((x) => x !== id);
    ids.unshift(id);
    localStorage.setItem(STORE.jobs, JSON.stringify(ids.slice(0, MAX_REMEMBERED)));
  }

  function rememberedIds() {
    try {
      const ids = JSON.parse(localStorage.getItem(STORE.jobs) || '[]');
      return Array.isArray(ids) ? ids.filter((x) => typeof x === 'string') : [];
    } catch (e) {
      return [];
    }
  }

  function stopFollowing() {
    if (!current) return;
    if (current.abort) current.abort.abort();
    if (current.poll) clearInterval(current.poll);
    current.stopped = true;
  }

  /** Shows a job (a whole JobView) in the job panel and follows it until it ends. */
  function follow(view) {
    stopFollowing();
    localStorage.setItem(STORE.current, view.id);
    current = {
      id: view.id,
      status: view.status,
      step: view.progress ? view.progress.step : 0,
      steps: view.progress ? view.progress.steps : view.spec.steps,
      queuePosition: view.queuePosition,
      attempts: view.attempts,
      cancelRequested: view.cancelRequested,
      firstStep: null, // {step, at} of the first step this page saw
      lastStep: null,
      abort: new AbortController(),
      poll: null,
      stopped: false,
    };
    lastView = view;
    $('job').hidden = false;
    $('result').hidden = true;
    $('job-error').hidden = true;
    $('result-img').removeAttribute('src');
    renderJob();
    if (TERMINAL.has(view.status)) {
      finish(view);
      return;
    }
    const me = current;
    me.poll = setInterval(() => pollQueue(me), 1500);
    stream(me, 0);
  }

  async function stream(me, failures) {
    try {
      await readEvents(
        '/v1/jobs/' + me.id + '/events',
        (name, data) => {
          if (me.stopped) return;
          onEvent(me, name, data);
        },
        me.abort.signal
      );
      failures = 0;
    } catch (e) {
      if (me.stopped) return;
      failures++;
    }
    if (me.stopped || TERMINAL.has(me.status)) return;
    // The stream ended early (a restart, a proxy): the next one starts with the job as it is.
    if (failures > 0) {
      $('timing').textContent = t('lost');
    }
    setTimeout(() => {
      if (!me.stopped) stream(me, failures);
    }, Math.min(1000 * 2 ** Math.min(failures, 4), 15000));
  }

  function onEvent(me, name, data) {
    if (data.spec) {
      // A whole job: the first and the last event, and any resync.
      lastView = data;
      me.queuePosition = data.queuePosition;
      if (data.progress) noteStep(me, data.progress.step, data.progress.steps);
    } else if (typeof data.step === 'number') {
      noteStep(me, data.step, data.steps);
    }
    const moved = data.status && data.status !== me.status;
    me.status = data.status || me.status;
    if (typeof data.attempts === 'number') me.attempts = data.attempts;
    if (typeof data.cancelRequested === 'boolean') me.cancelRequested = data.cancelRequested;
    renderJob();
    if (moved && !TERMINAL.has(me.status)) refreshHistory();
    if (TERMINAL.has(me.status)) {
      if (data.spec) finish(data);
      else refetchAndFinish(me);
    }
  }

  async function refetchAndFinish(me) {
    const r = await apiJson('/v1/jobs/' + me.id);
    if (r.ok && !me.stopped) finish(r.body);
  }

  function noteStep(me, step, steps) {
    const now = performance.now();
    if (steps) me.steps = steps;
    if (step > me.step || me.firstStep === null) {
      if (step > 0 && me.firstStep === null) me.firstStep = { step, at: now };
      if (step > 0) me.lastStep = { step, at: now };
    }
    me.step = Math.max(me.step, step);
  }

  async function pollQueue(me) {
    if (me.stopped || me.status !== 'QUEUED') return;
    try {
      const r = await apiJson('/v1/jobs/' + me.id);
      if (!r.ok || me.stopped) return;
      if (r.body.status === 'QUEUED') {
        me.queuePosition = r.body.queuePosition;
        renderJob();
      }
    } catch (e) {
      // the stream reports lost connections
    }
  }

  function seconds(ms) {
    const s = ms / 1000;
    return s < 10 ? s.toFixed(2) : s.toFixed(1);
  }

  function renderJob() {
    const me = current;
    if (!me) return;
    const status = $('job-status');
    const bar = $('progress');
    const steps = me.steps || 1;
    const step = me.status === 'SUCCEEDED' ? steps : Math.min(me.step, steps);
    bar.setAttribute('aria-valuemax', String(steps));
    bar.setAttribute('aria-valuenow', String(step));
    bar.setAttribute('aria-valuetext', t('stepOf', { step, steps }));
    bar.dataset.state = me.status;
    $('progress-bar').style.width = (100 * step) / steps + '%';
    let line;
    if (me.status === 'QUEUED') {
      line =
        me.queuePosition != null
          ? t('queued', { pos: me.queuePosition, ahead: Math.max(me.queuePosition - 1, 0) })
          : t('queuedNoPos');
    } else if (me.status === 'RUNNING') {
      line = t('status.RUNNING') + ' · ' + (step > 0 ? t('stepOf', { step, steps }) : t('starting'));
      if (me.cancelRequested) line += ' · ' + t('cancelling');
    } else {
      line = t('status.' + me.status);
    }
    if (me.attempts > 1 && !TERMINAL.has(me.status)) line += ' (' + t('retry', { n: me.attempts }) + ')';
    status.textContent = line;
    // Time per step and what is left, from the steps this page saw arrive.
    const timing = [];
    if (me.firstStep && me.lastStep && me.lastStep.step > me.firstStep.step) {
      const per = (me.lastStep.at - me.firstStep.at) / (me.lastStep.step - me.firstStep.step);
      timing.push(t('perStep', { s: seconds(per) }));
      if (me.status === 'RUNNING' && step < steps) timing.push(t('left', { s: seconds(per * (steps - step)) }));
    }
    if (TERMINAL.has(me.status) && lastView && lastView.startedAt && lastView.finishedAt) {
      const took = Date.parse(lastView.finishedAt) - Date.parse(lastView.startedAt);
      if (took >= 0) timing.push(t('tookTotal', { s: seconds(took) }));
    }
    $('timing').textContent = timing.join(' · ');
    $('running-actions').hidden = TERMINAL.has(me.status);
    $('cancel').disabled = me.cancelRequested;
    $('cancel').textContent = me.cancelRequested ? t('cancelling') : t('cancel');
    if (lastView) renderParams(lastView);
    if (TERMINAL.has(me.status) && lastView) renderOutcome(lastView);
  }

  function finish(view) {
    const me = current;
    if (!me || me.id !== view.id) return;
    lastView = view;
    me.status = view.status;
    if (view.progress) {
      me.step = view.progress.step;
      me.steps = view.progress.steps;
    }
    if (me.poll) clearInterval(me.poll);
    me.stopped = true;
    if (me.abort) me.abort.abort();
    renderJob();
    refreshHistory();
  }

  function renderOutcome(view) {
    const err = $('job-error');
    err.hidden = true;
    if (view.status === 'SUCCEEDED' && view.result) {
      const img = $('result-img');
      img.alt = view.spec.prompt;
      img.width = view.result.width;
      img.height = view.result.height;
      if (img.getAttribute('src') !== view.result.url) img.src = view.result.url;
      const dl = $('download');
      dl.href = view.result.url;
      dl.setAttribute('download', 'fleet-' + view.result.seed + '.png');
      $('result').hidden = false;
      $('job-status').textContent = t('succeeded', {
        w: view.result.width,
        h: view.result.height,
        seed: view.result.seed,
      });
    } else {
      $('result').hidden = true;
      if (view.status === 'CANCELLED') {
        $('job-status').textContent = t('cancelledAt', {
          step: view.progress ? view.progress.step : 0,
          steps: view.progress ? view.progress.steps : view.spec.steps,
        });
      } else if (view.status === 'FAILED') {
        err.textContent = t('failed', { message: view.error ? view.error.message : '' });
        err.hidden = false;
      } else if (view.status === 'TIMED_OUT') {
        err.textContent = t('timedOut');
        err.hidden = false;
      }
    }
  }

  function renderParams(view) {
    const s = view.spec;
    const dl = $('params');
    dl.textContent = '';
    const cfg = specUsesCfg(s);
    const rows = [['param.prompt', s.prompt]];
    if (s.negativePrompt) rows.push(['param.negativePrompt', s.negativePrompt]);
    rows.push(
      ['param.model', s.model],
      ['param.size', t('sizeValue', { w: s.width, h: s.height })],
      ['param.steps', String(s.steps)],
      [cfg ? 'param.cfgScale' : 'param.guidance', String(s.guidance)]
    );
    if (s.cfgTruncation != null) rows.push(['param.cfgTruncation', String(s.cfgTruncation)]);
    rows.push(['param.seed', String(s.seed)]);
    if (s.loras && s.loras.length) {
      rows.push(['param.loras', s.loras.map((l) => l.name + ' ' + l.strength).join(', ')]);
    }
    for (const [k, v] of rows) {
      const row = document.createElement('div');
      const dt = document.createElement('dt');
      dt.textContent = t(k);
      const dd = document.createElement('dd');
      dd.textContent = v;
      if (k === 'param.seed') dd.id = 'used-seed';
      if (k === 'param.prompt' || k === 'param.negativePrompt') row.className = 'wide';
      row.append(dt, dd);
      dl.append(row);
    }
  }

  async function cancel() {
    if (!current || TERMINAL.has(current.status)) return;
    const me = current;
    me.cancelRequested = true;
    renderJob();
    const r = await apiJson('/v1/jobs/' + me.id, { method: 'DELETE' });
    if (r.ok && r.body && r.body.spec) {
      if (TERMINAL.has(r.body.status)) finish(r.body);
    } else if (r.status === 409) {
      refetchAndFinish(me);
    }
  }

  async function copySeed() {
    if (!lastView) return;
    const seed = String(lastView.spec.seed);
    try {
      await navigator.clipboard.writeText(seed);
    } catch (e) {
      const tmp = document.createElement('textarea');
      tmp.value = seed;
      tmp.setAttribute('readonly', '');
      tmp.style.position = 'fixed';
      tmp.style.opacity = '0';
      document.body.append(tmp);
      tmp.select();
      try {
        document.execCommand('copy');
      } catch (ignored) {
        // nothing more to try
      }
      tmp.remove();
    }
    $('copied').textContent = t('copied', { seed });
  }

  // --- History ----------------------------------------------------------------------------------

  let historyCache = [];
  let historyRun = 0;

  async function refreshHistory() {
    const run = ++historyRun;
    const scope = $('scope').value;
    try {
      let jobs;
      if (scope === 'all') {
        const r = await apiJson('/v1/jobs?limit=30');
        jobs = r.ok ? r.body.jobs : [];
      } else {
        const ids = rememberedIds();
        if (!ids.length) {
          jobs = [];
        } else {
          const r = await apiJson('/v1/jobs?limit=200');
          const byId = new Map((r.ok ? r.body.jobs : []).map((j) => [j.id, j]));
          const missing = ids.filter((id) => !byId.has(id)).slice(0, 20);
          const found = await Promise.all(missing.map((id) => apiJson('/v1/jobs/' + id)));
          found.forEach((f) => {
            if (f.ok) byId.set(f.body.id, f.body);
          });
          jobs = ids.map((id) => byId.get(id)).filter(Boolean).slice(0, 30);
        }
      }
      if (run !== historyRun) return;
      historyCache = jobs;
      renderHistory(jobs);
    } catch (e) {
      // the form shows connection problems
    }
  }

  function renderHistory(jobs) {
    const list = $('history-list');
    list.textContent = '';
    $('history-empty').hidden = jobs.length > 0;
    for (const job of jobs) {
      const li = document.createElement('li');
      li.className = 'item';
      li.dataset.id = job.id;
      li.dataset.status = job.status;
      const thumb = document.createElement('div');
      thumb.className = 'thumb';
      if (job.status === 'SUCCEEDED' && job.result) {
        const img = document.createElement('img');
        img.src = job.result.url;
        img.alt = t('thumbAlt');
        img.loading = 'lazy';
        img.width = job.spec.width;
        img.height = job.spec.height;
        thumb.append(img);
      }
      const info = document.createElement('div');
      info.className = 'info';
      const p = document.createElement('p');
      p.className = 'prompt';
      p.textContent = job.spec.prompt;
      info.append(p);
      if (job.spec.negativePrompt) {
        const neg = document.createElement('p');
        neg.className = 'negative';
        neg.textContent = t('negativeLine', { text: job.spec.negativePrompt });
        info.append(neg);
      }
      const meta = document.createElement('p');
      meta.className = 'meta';
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.dataset.status = job.status;
      badge.textContent = t('status.' + job.status);
      const when = job.createdAt ? new Date(job.createdAt).toLocaleString(lang) : '';
      meta.append(
        badge,
        document.createTextNode(
          ' ' + job.spec.width + '×' + job.spec.height + ' · ' + job.spec.steps + ' · ' + job.spec.seed + ' · ' + when
        )
      );
      const acts = document.createElement('div');
      acts.className = 'actions wrap';
      const open = document.createElement('button');
      open.type = 'button';
      open.className = 'secondary';
      open.textContent = t('open');
      open.addEventListener('click', () => {
        follow(job);
        $('job').scrollIntoView({ block: 'start' });
        $('job-h').focus();
      });
      const rerun = document.createElement('button');
      rerun.type = 'button';
      rerun.className = 'secondary';
      rerun.textContent = t('rerun');
      rerun.addEventListener('click', () => {
        fillForm(job.spec);
        submit(readForm());
      });
      acts.append(open, rerun);
      info.append(meta, acts);
      li.append(thumb, info);
      list.append(li);
    }
  }

  // --- Start ------------------------------------------------------------------------------------

  async function restoreCurrent() {
    const id = localStorage.getItem(STORE.current);
    if (!id) return;
    const r = await apiJson('/v1/jobs/' + encodeURIComponent(id));
    if (r.ok && r.body && r.body.spec) follow(r.body);
  }

  function wire() {
    $('lang').addEventListener('change', () => {
      localStorage.setItem(STORE.lang, $('lang').value);
      applyLanguage($('lang').value);
    });
    $('form').addEventListener('submit', (e) => {
      e.preventDefault();
      submit(readForm());
    });
    $('prompt').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        $('form').requestSubmit();
      }
    });
    $('model').addEventListener('change', applyModelDefaults);
    $('seed-random').addEventListener('click', () => {
      $('seed').value = -1;
    });
    $('preset').addEventListener('change', () => {
      const [w, h] = $('preset').value.split('x').map(Number);
      $('width').value = w;
      $('height').value = h;
    });
    $('width').addEventListener('input', sizeTyped);
    $('height').addEventListener('input', sizeTyped);
    $('steps').addEventListener('input', () => {
      $('steps-range').value = $('steps').value;
    });
    $('steps-range').addEventListener('input', () => {
      $('steps').value = $('steps-range').value;
    });
    $('cancel').addEventListener('click', cancel);
    $('copy-seed').addEventListener('click', copySeed);
    $('reuse-seed').addEventListener('click', () => {
      if (!lastView) return;
      $('seed').value = lastView.spec.seed;
      $('copied').textContent = t('seedSet', { seed: lastView.spec.seed });
    });
    $('again').addEventListener('click', () => {
      if (!lastView) return;
      fillForm({ ...lastView.spec, seed: -1 });
      submit(readForm());
    });
    // The account's jobs (GET /v1/jobs: the caller's tenant) unless only this browser's were chosen.
    $('scope').value = localStorage.getItem(STORE.scope) === 'mine' ? 'mine' : 'all';
    $('scope').addEventListener('change', () => {
      localStorage.setItem(STORE.scope, $('scope').value);
      refreshHistory();
    });
    $('refresh').addEventListener('click', refreshHistory);
    $('key-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const key = $('api-key').value.trim();
      if (key) localStorage.setItem(STORE.key, key);
      else localStorage.removeItem(STORE.key);
      $('api-key').value = '';
      $('key-panel').hidden = true;
      clearErrors();
      start();
    });
    $('job-h').tabIndex = -1;
    // A field's API message stays until that field is changed (or the next submission).
    for (const f of FIELDS) {
      $(f).addEventListener('input', () => {
        if ($(f).getAttribute('aria-invalid') !== 'true') return;
        $(f).removeAttribute('aria-invalid');
        $(f + '-error').hidden = true;
      });
    }
  }

  $('lora-add').addEventListener('click', addLora);

  async function start() {
    try {
      const r = await apiJson('/v1/models');
      if (!r.ok) {
        if (r.status !== 401) showProblem(r.body, r.status);
        return;
      }
      registry = r.body;
    } catch (e) {
      showFormError(t('unreachable'));
      return;
    }
    renderModels();
    applyModelDefaults();
    await loadLoras();
    applyLanguage(lang);
    document.body.dataset.ready = 'true';
    await Promise.all([restoreCurrent(), refreshHistory()]);
  }

  keyFromAddress();
  wire();
  applyLanguage(pickLanguage());
  start();
})();
