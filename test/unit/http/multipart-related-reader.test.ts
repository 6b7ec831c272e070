import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MultipartError, MultipartReader } from '../../../src/http/multipart-related-reader.js';
import { parseMediaType } from '../../../src/http/media-type.js';

// ---- helpers ----

/** Small deterministic PRNG (mulberry32), so a failing case can be reproduced from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (rand: () => number, min: number, max: number): number =>
  min + Math.floor(rand() * (max - min + 1));

interface PartSpec {
  /** Raw header lines as they go on the wire (folded lines contain CRLF + whitespace). */
  headerLines: string[];
  body: Buffer;
  /** What the reader should report. */
  headers: Record<string, string>;
}

interface BodyOptions {
  preamble?: Buffer;
  epilogue?: Buffer;
  /** Transport padding (spaces, tabs) after each boundary. */
  padding?: string;
}

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Builds a multipart body the way RFC 2046 5.1.1 lays it out. */
function encode(boundary: string, parts: PartSpec[], options: BodyOptions = {}): Buffer {
  const out: Buffer[] = [];
  const padding = options.padding ?? '';
  if (options.preamble) out.push(options.preamble, latin1('\r\n'));
  out.push(latin1(`--${boundary}`));
  parts.forEach((part, i) => {
    if (i > 0) out.push(latin1(`\r\n--${boundary}`));
    out.push(latin1(`${padding}\r\n`));
    out.push(latin1(part.headerLines.map((line) => `${line}\r\n`).join('') + '\r\n'));
    out.push(part.body);
  });
  out.push(latin1(`\r\n--${boundary}--${padding}`));
  if (options.epilogue) out.push(latin1('\r\n'), options.epilogue);
  return Buffer.concat(out);
}

async function* chunks(pieces: Iterable<Buffer>): AsyncGenerator<Buffer> {
  for (const piece of pieces) yield piece;
}

/** Splits a buffer into pieces of the given sizes (the last piece takes the rest). */
function split(buffer: Buffer, size: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < buffer.length;) {
    const n = Math.max(1, size());
    out.push(buffer.subarray(at, at + n));
    at += n;
  }
  return out;
}

interface ReadPart {
  headers: Record<string, string>;
  body: Buffer;
}

async function readBody(body: AsyncIterable<Buffer>, chunkSizes?: number[]): Promise<Buffer> {
  const got: Buffer[] = [];
  for await (const chunk of body) {
    assert.ok(Buffer.isBuffer(chunk), 'body chunks are Buffers');
    assert.ok(chunk.length > 0, 'the reader never yields empty chunks');
    chunkSizes?.push(chunk.length);
    got.push(Buffer.from(chunk));
  }
  return Buffer.concat(got);
}

async function readAll(reader: MultipartReader): Promise<ReadPart[]> {
  const parts: ReadPart[] = [];
  for (let part = await reader.nextPart(); part; part = await reader.nextPart()) {
    parts.push({ headers: part.headers, body: await readBody(part.body) });
  }
  // Once the close delimiter is seen, the reader stays finished.
  assert.equal(await reader.nextPart(), undefined);
  return parts;
}

function assertParts(actual: ReadPart[], expected: PartSpec[], context: string): void {
  assert.equal(actual.length, expected.length, `${context}: part count`);
  expected.forEach((spec, i) => {
    const got = actual[i]!;
    assert.deepEqual(got.headers, spec.headers, `${context}: headers of part ${i}`);
    if (!got.body.equals(spec.body)) {
      assert.fail(
        `${context}: body of part ${i} differs: got ${got.body.length} bytes ${JSON.stringify(
          got.body.toString('latin1').slice(0, 120),
        )}, want ${spec.body.length} bytes ${JSON.stringify(spec.body.toString('latin1').slice(0, 120))}`,
      );
    }
  });
}

async function rejectsMultipart(promise: Promise<unknown>, pattern: RegExp, context = ''): Promise<void> {
  await assert.rejects(
    promise,
    (error: unknown) => {
      assert.ok(error instanceof MultipartError, `${context}: want MultipartError, got ${String(error)}`);
      assert.match(error.message, pattern, context);
      assert.equal(error.name, 'MultipartError');
      return true;
    },
    context,
  );
}

/** Random content full of things that look like (parts of) delimiters but are not the delimiter. */
function trickyContent(rand: () => number, boundary: string, length: number): Buffer {
  const delimiter = latin1(`\r\n--${boundary}`);
  const tokens = [
    latin1('\r\n'),
    latin1('\r'),
    latin1('\n'),
    latin1('--'),
    latin1('\r\n--'),
    latin1('\r\n\r\n'),
    latin1(`--${boundary}`),
    latin1(`-${boundary}`),
    latin1(`\r\n-${boundary}`),
    latin1(`\r\n--${boundary.slice(0, -1)}`),
    latin1(`\r\n--${boundary.slice(0, Math.floor(boundary.length / 2))}`),
    latin1(`\r\r\n--${boundary.slice(0, -1)}\r\n`),
    latin1(`\r\n -- ${boundary}`),
  ];
  const out: Buffer[] = [];
  let size = 0;
  while (size < length) {
    const piece =
      rand() < 0.35
        ? tokens[int(rand, 0, tokens.length - 1)]!
        : Buffer.from(Array.from({ length: int(rand, 1, 40) }, () => int(rand, 0, 255)));
    out.push(piece);
    size += piece.length;
  }
  // End half of the bodies on a partial delimiter, so the next real delimiter follows a near miss.
  if (rand() < 0.5) out.push(delimiter.subarray(0, int(rand, 1, delimiter.length - 1)));
  const content = Buffer.concat(out);
  // The one thing a body may not contain is the delimiter itself: break any that formed by chance
  // (a NUL is in no delimiter, so this cannot make a new one).
  for (let at = content.indexOf(delimiter); at >= 0; at = content.indexOf(delimiter, at)) content[at + 1] = 0;
  assert.equal(Buffer.concat([content, delimiter]).indexOf(delimiter), content.length);
  return content;
}

function preambleFor(rand: () => number, boundary: string): Buffer {
  for (;;) {
    const preamble = trickyContent(rand, boundary, 3000);
    if (!preamble.subarray(0, boundary.length + 2).equals(latin1(`--${boundary}`))) return preamble;
  }
}

function randomPart(rand: () => number, boundary: string, maxBody: number): PartSpec {
  const body = trickyContent(rand, boundary, int(rand, 0, maxBody));
  const kind = int(rand, 0, 3);
  if (kind === 0) return { headerLines: [], body, headers: {} };
  if (kind === 1)
    return {
      headerLines: ['Content-Type: application/dicom'],
      body,
      headers: { 'content-type': 'application/dicom' },
    };
  if (kind === 2)
    return {
      headerLines: [
        'content-type:application/dicom; transfer-syntax=1.2.840.10008.1.2.1',
        'Content-Location:   http://example.org/x?a=1   ',
        'X-Folded: first',
        '\t second',
        '  third',
      ],
      body,
      headers: {
        'content-type': 'application/dicom; transfer-syntax=1.2.840.10008.1.2.1',
        'content-location': 'http://example.org/x?a=1',
        'x-folded': 'first second third',
      },
    };
  return {
    headerLines: ['CONTENT-ID: <part@example.org>', 'Content-Description: a: b: c'],
    body,
    headers: { 'content-id': '<part@example.org>', 'content-description': 'a: b: c' },
  };
}

function randomBoundary(rand: () => number): string {
  const bchars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?";
  const length = int(rand, 1, 70);
  let b = '';
  for (let i = 0; i < length; i++) b += bchars[int(rand, 0, bchars.length - 1)];
  return b;
}

// ---- well-formed bodies ----

test('reads a simple two-part body', async () => {
  const parts: PartSpec[] = [
    {
      headerLines: ['Content-Type: application/dicom'],
      body: latin1('first'),
      headers: { 'content-type': 'application/dicom' },
    },
    { headerLines: [], body: latin1('second\r\n'), headers: {} },
  ];
  const body = encode('XyZ', parts);
  assert.equal(
    body.toString('latin1'),
    '--XyZ\r\nContent-Type: application/dicom\r\n\r\nfirst\r\n--XyZ\r\n\r\nsecond\r\n\r\n--XyZ--',
  );
  assertParts(await readAll(MultipartReader.from(chunks([body]), 'XyZ')), parts, 'single chunk');
});

test('a body with the close delimiter only has no parts', async () => {
  for (const text of ['--b--', '--b--\r\n', 'preamble\r\n--b--epilogue', '\r\n--b--']) {
    const reader = MultipartReader.from(chunks([latin1(text)]), 'b');
    assert.equal(await reader.nextPart(), undefined, text);
    assert.equal(await reader.nextPart(), undefined, text);
  }
});

test('boundary from a quoted or unquoted Content-Type parameter, with the bchars RFC 2046 allows', async () => {
  const cases = [
    'multipart/related; type="application/dicom"; boundary="simple boundary"',
    'multipart/related; type=application/dicom; boundary="\'()+_,-./:=? x"',
    'multipart/related; boundary=0123456789012345678901234567890123456789012345678901234567890123456789',
    'Multipart/Related;Boundary=CaseMatters;type=application/dicom',
    'multipart/related; boundary="----=_Part_0_12345.67890"; start="<root@example>"',
  ];
  for (const contentType of cases) {
    const boundary = parseMediaType(contentType)?.params.boundary;
    assert.ok(boundary, contentType);
    const parts: PartSpec[] = [
      {
        headerLines: ['Content-Type: application/dicom'],
        body: latin1('one'),
        headers: { 'content-type': 'application/dicom' },
      },
      { headerLines: [], body: latin1(`--${boundary}`), headers: {} },
    ];
    const body = encode(boundary, parts, { preamble: latin1('This is a preamble.') });
    assertParts(await readAll(MultipartReader.from(chunks([body]), boundary)), parts, contentType);
  }
});

test('the boundary is matched case-sensitively and must not be empty or over 70 characters', async () => {
  assert.throws(() => MultipartReader.from(chunks([]), ''), MultipartError);
  assert.throws(() => MultipartReader.from(chunks([]), 'x'.repeat(71)), MultipartError);
  assert.doesNotThrow(() => MultipartReader.from(chunks([]), 'x'.repeat(70)));
  // "--abc" is not the delimiter of boundary "ABC".
  const reader = MultipartReader.from(chunks([latin1('--ABC\r\n\r\nx\r\n--abc\r\n--ABC--')]), 'ABC');
  const part = await reader.nextPart();
  assert.ok(part);
  assert.equal((await readBody(part.body)).toString('latin1'), 'x\r\n--abc');
  assert.equal(await reader.nextPart(), undefined);
});

test('header names are lower-cased, values trimmed, folded lines unfolded, no-header parts allowed', async () => {
  const text =
    'preamble line 1\r\npreamble line 2\r\n' +
    '--b\r\n' +
    'Content-Type:  application/dicom \r\n' +
    'X-Long: part one\r\n' +
    ' \t part two\r\n' +
    '\tpart three\r\n' +
    'X-Empty:\r\n' +
    'X-Colon: a:b:c\r\n' +
    '\r\n' +
    'BODY1' +
    '\r\n--b\r\n' +
    '\r\n' +
    '\r\n\r\nBODY2 starts with blank lines' +
    '\r\n--b\r\n' +
    '\r\n' +
    '\r\n--b--\r\nepilogue';
  const reader = MultipartReader.from(chunks([latin1(text)]), 'b');
  const parts = await readAll(reader);
  assert.deepEqual(
    parts.map((p) => ({ headers: p.headers, body: p.body.toString('latin1') })),
    [
      {
        headers: {
          'content-type': 'application/dicom',
          'x-long': 'part one part two part three',
          'x-empty': '',
          'x-colon': 'a:b:c',
        },
        body: 'BODY1',
      },
      { headers: {}, body: '\r\n\r\nBODY2 starts with blank lines' },
      { headers: {}, body: '' },
    ],
  );
});

test('a repeated header keeps the last value', async () => {
  const reader = MultipartReader.from(chunks([latin1('--b\r\nA: 1\r\na: 2\r\n\r\nx\r\n--b--')]), 'b');
  const part = await reader.nextPart();
  assert.deepEqual(part?.headers, { a: '2' });
  await readBody(part.body);
  assert.equal(await reader.nextPart(), undefined);
});

test('transport padding after boundaries is skipped; the epilogue is ignored, whatever it holds', async () => {
  const parts: PartSpec[] = [
    { headerLines: ['A: 1'], body: latin1('one'), headers: { a: '1' } },
    { headerLines: [], body: latin1('two'), headers: {} },
  ];
  const body = encode('bnd', parts, {
    padding: ' \t \t',
    preamble: latin1('--bn\r\n-x--bnd not at line start, --bnd--'),
    epilogue: latin1('\r\n--bnd\r\nA: 3\r\n\r\nnot a part\r\n--bnd garbage'),
  });
  assertParts(await readAll(MultipartReader.from(chunks([body]), 'bnd')), parts, 'padding');
});

test('the first boundary may open the body or follow a preamble ending in CRLF', async () => {
  for (const prefix of ['', '\r\n', 'preamble\r\n', '\r\n\r\n', '--\r\n', 'x--b\r\n']) {
    const reader = MultipartReader.from(chunks([latin1(`${prefix}--b\r\n\r\nbody\r\n--b--`)]), 'b');
    const parts = await readAll(reader);
    assert.deepEqual(
      parts.map((p) => p.body.toString('latin1')),
      ['body'],
      JSON.stringify(prefix),
    );
  }
});

test('"--boundary" inside a preamble line is not a delimiter (RFC 2046: delimiters start a line)', async () => {
  // Long enough that the reader has to drop preamble bytes while it looks for the first delimiter.
  const preamble = `${'p'.repeat(40)}--bnd\r\nX: y\r\n\r\nfake${'q'.repeat(40)}`;
  const body = latin1(`${preamble}\r\n--bnd\r\nA: 1\r\n\r\nreal\r\n--bnd--`);
  for (let size = 1; size <= 24; size++) {
    const reader = MultipartReader.from(chunks(split(body, () => size)), 'bnd');
    const parts = await readAll(reader);
    assert.deepEqual(
      parts.map((p) => [p.headers, p.body.toString('latin1')]),
      [[{ a: '1' }, 'real']],
      `chunk size ${size}`,
    );
  }
});

test('a small tricky body parses the same at every single split point and every pair of split points', async () => {
  const boundary = 'b0undary';
  const parts: PartSpec[] = [
    {
      headerLines: ['Content-Type: application/dicom', 'X-F: a', '\tb'],
      body: latin1(`\r\n--b0und\r\n-${boundary}--\r`),
      headers: { 'content-type': 'application/dicom', 'x-f': 'a b' },
    },
    { headerLines: [], body: latin1(''), headers: {} },
    { headerLines: ['A: 1'], body: Buffer.from([0, 13, 10, 45, 45, 98, 255, 13]), headers: { a: '1' } },
  ];
  const body = encode(boundary, parts, {
    preamble: latin1('pre\r\n--b0u'),
    epilogue: latin1('epi'),
    padding: ' ',
  });
  for (let i = 0; i <= body.length; i++) {
    const reader = MultipartReader.from(chunks([body.subarray(0, i), body.subarray(i)]), boundary);
    assertParts(await readAll(reader), parts, `split at ${i}`);
  }
  for (let i = 0; i <= body.length; i++) {
    for (let j = i; j <= body.length; j += 3) {
      const pieces = [body.subarray(0, i), body.subarray(i, j), body.subarray(j)];
      assertParts(
        await readAll(MultipartReader.from(chunks(pieces), boundary)),
        parts,
        `split at ${i}, ${j}`,
      );
    }
  }
  // One byte at a time, with empty chunks in between.
  const bytes = [...body].flatMap((byte) => [Buffer.alloc(0), Buffer.from([byte])]);
  assertParts(await readAll(MultipartReader.from(chunks(bytes), boundary)), parts, 'bytewise');
});

test('random bodies of 1..5 parts with tricky binary content, split at every point', async () => {
  for (let seed = 1; seed <= 12; seed++) {
    const rand = prng(seed);
    const boundary = randomBoundary(rand);
    const parts = Array.from({ length: int(rand, 1, 5) }, () => randomPart(rand, boundary, 40));
    const options: BodyOptions = {
      preamble: rand() < 0.5 ? latin1(`preamble ${seed}\r\n--${boundary.slice(0, -1)}`) : undefined,
      epilogue: rand() < 0.5 ? trickyContent(rand, boundary, 20) : undefined,
      padding: rand() < 0.3 ? ' \t' : '',
    };
    const body = encode(boundary, parts, options);
    for (let i = 0; i <= body.length; i++) {
      const reader = MultipartReader.from(chunks([body.subarray(0, i), body.subarray(i)]), boundary);
      assertParts(await readAll(reader), parts, `seed ${seed}, split at ${i}`);
    }
  }
});

test('random larger bodies at random chunk sizes from 1 to 100000 bytes', async () => {
  for (let seed = 100; seed < 130; seed++) {
    const rand = prng(seed);
    const boundary = randomBoundary(rand);
    const maxBody = [200, 5000, 300_000][seed % 3]!;
    const parts = Array.from({ length: int(rand, 1, 5) }, () => randomPart(rand, boundary, maxBody));
    const body = encode(boundary, parts, {
      preamble: rand() < 0.5 ? preambleFor(rand, boundary) : undefined,
      epilogue: rand() < 0.5 ? latin1('epilogue') : undefined,
    });
    // Uniform sizes, small sizes, and sizes around the delimiter length.
    const sizeModes: (() => number)[] = [
      () => int(rand, 1, 100_000),
      () => int(rand, 1, 16),
      () => int(rand, Math.max(1, boundary.length - 2), boundary.length + 6),
    ];
    for (const [mode, size] of sizeModes.entries()) {
      if (mode === 1 && body.length > 100_000) continue; // byte-sized chunks of big bodies only slow the test
      const pieces = split(body, size);
      assertParts(
        await readAll(MultipartReader.from(chunks(pieces), boundary)),
        parts,
        `seed ${seed}, mode ${mode}`,
      );
    }
  }
});

test('a preamble that starts with the boundary but is longer is garbage after the first boundary', async () => {
  const reader = MultipartReader.from(chunks([latin1('--bndX\r\n\r\nbody\r\n--bnd--')]), 'bnd');
  await rejectsMultipart(reader.nextPart(), /unexpected characters after a boundary/);
});

test('accepts Uint8Array chunks as well as Buffers', async () => {
  const bytes = new Uint8Array(latin1('--b\r\n\r\nabc\r\n--b--'));
  const source = (async function* () {
    yield bytes.subarray(0, 9);
    yield bytes.subarray(9);
  })() as unknown as AsyncIterable<Buffer>;
  const parts = await readAll(MultipartReader.from(source, 'b'));
  assert.deepEqual(
    parts.map((p) => p.body.toString()),
    ['abc'],
  );
});

// ---- malformed bodies ----

test('missing final boundary: the last part body iteration throws MultipartError, at every split', async () => {
  const text = 'preamble\r\n--b\r\nA: 1\r\n\r\nfirst\r\n--b\r\nA: 2\r\n\r\nsecond, never closed\r\n--';
  const body = latin1(text);
  for (let i = 0; i <= body.length; i++) {
    const reader = MultipartReader.from(chunks([body.subarray(0, i), body.subarray(i)]), 'b');
    const first = await reader.nextPart();
    assert.deepEqual(first?.headers, { a: '1' });
    assert.equal((await readBody(first.body)).toString(), 'first');
    const second = await reader.nextPart();
    assert.deepEqual(second?.headers, { a: '2' });
    const got: Buffer[] = [];
    await rejectsMultipart(
      (async () => {
        for await (const chunk of second.body) got.push(chunk);
      })(),
      /closing boundary is missing/,
      `split at ${i}`,
    );
    // What came out before the error is a prefix of the part's bytes.
    assert.ok('second, never closed\r\n--'.startsWith(Buffer.concat(got).toString()), `split at ${i}`);
  }
});

test('a body ending right after a delimiter, or inside the close delimiter, is an error', async () => {
  for (const text of ['--b\r\n\r\nx\r\n--b', '--b\r\n\r\nx\r\n--b-', '--b\r\n\r\nx\r\n--b  ']) {
    const reader = MultipartReader.from(chunks([latin1(text)]), 'b');
    const part = await reader.nextPart();
    assert.ok(part);
    await rejectsMultipart(readBody(part.body), /body ends right after a boundary/, JSON.stringify(text));
  }
  await rejectsMultipart(
    MultipartReader.from(chunks([latin1('--b')]), 'b').nextPart(),
    /body ends right after a boundary/,
  );
});

test('a body ending inside part headers is an error', async () => {
  for (const text of ['--b\r\n', '--b\r\nContent-Type: application/dicom', '--b\r\nA: 1\r\n']) {
    await rejectsMultipart(
      MultipartReader.from(chunks([latin1(text)]), 'b').nextPart(),
      /body ends inside part headers/,
      JSON.stringify(text),
    );
  }
  // Also when it happens after a complete part.
  const reader = MultipartReader.from(chunks([latin1('--b\r\n\r\nx\r\n--b\r\nA: 1')]), 'b');
  const part = await reader.nextPart();
  assert.equal((await readBody(part!.body)).toString(), 'x');
  await rejectsMultipart(reader.nextPart(), /body ends inside part headers/);
});

test('no boundary at all is an error, also for empty and large bodies', async () => {
  const bodies = [
    [],
    [latin1('')],
    [latin1('just some text')],
    [latin1('--bn\r\n--bnd'.slice(0, 8))],
    split(Buffer.alloc(300_000, 0x2d), () => 4096),
    [latin1('x--bnd\r\n\r\nbody\r\n')], // not at the start of a line
  ];
  for (const pieces of bodies) {
    await rejectsMultipart(
      MultipartReader.from(chunks(pieces), 'bnd').nextPart(),
      /no multipart boundary found/,
    );
  }
});

test('garbage after a boundary is an error, for the first and for a later boundary', async () => {
  await rejectsMultipart(
    MultipartReader.from(chunks([latin1('--bndgarbage\r\n\r\nx\r\n--bnd--')]), 'bnd').nextPart(),
    /unexpected characters after a boundary/,
  );
  await rejectsMultipart(
    MultipartReader.from(chunks([latin1('--bnd \t x\r\n\r\nx\r\n--bnd--')]), 'bnd').nextPart(),
    /unexpected characters after a boundary/,
  );
  // A longer "boundary" in a body shares our boundary as a prefix: RFC 2046 forbids that, so it is an error.
  const reader = MultipartReader.from(
    chunks([latin1('--bnd\r\n\r\nx\r\n--bnd2\r\n\r\ny\r\n--bnd--')]),
    'bnd',
  );
  const part = await reader.nextPart();
  await rejectsMultipart(readBody(part!.body), /unexpected characters after a boundary/);
  // A boundary line that never ends.
  const long = [latin1('--bnd\r\n\r\nx\r\n--bnd'), ...split(Buffer.alloc(5000, 0x20), () => 100)];
  const reader2 = MultipartReader.from(chunks(long), 'bnd');
  const part2 = await reader2.nextPart();
  await rejectsMultipart(readBody(part2!.body), /unexpected characters after a boundary/);
});

test('a malformed header line is an error', async () => {
  for (const line of ['no colon here', ': empty name']) {
    await rejectsMultipart(
      MultipartReader.from(chunks([latin1(`--b\r\n${line}\r\n\r\nx\r\n--b--`)]), 'b').nextPart(),
      /malformed part header line/,
      line,
    );
  }
});

test('part headers over 16 KB are an error however the body is chunked; 16 KB exactly is fine', async () => {
  const block = (size: number): string => {
    const prefix = 'X-Big: ';
    return prefix + 'v'.repeat(size - prefix.length);
  };
  for (const chunkSize of [1000, 16 * 1024, 64 * 1024, 1 << 20]) {
    const ok = latin1(`--b\r\n${block(16 * 1024)}\r\n\r\nbody\r\n--b--`);
    const reader = MultipartReader.from(chunks(split(ok, () => chunkSize)), 'b');
    const part = await reader.nextPart();
    assert.equal(part?.headers['x-big']?.length, 16 * 1024 - 7, `chunk size ${chunkSize}`);
    assert.equal((await readBody(part.body)).toString(), 'body');

    const tooBig = latin1(`--b\r\n${block(16 * 1024 + 1)}\r\n\r\nbody\r\n--b--`);
    await rejectsMultipart(
      MultipartReader.from(chunks(split(tooBig, () => chunkSize)), 'b').nextPart(),
      /part headers are too large/,
      `chunk size ${chunkSize}`,
    );
    // Headers that never end do not make the reader buffer without limit.
    const endless = [latin1('--b\r\nX: '), ...split(Buffer.alloc(1 << 20, 0x61), () => chunkSize)];
    await rejectsMultipart(
      MultipartReader.from(chunks(endless), 'b').nextPart(),
      /part headers are too large/,
      `chunk size ${chunkSize}`,
    );
  }
});

test('nextPart() before the previous part is read to its end is an error', async () => {
  const text = '--b\r\n\r\n' + 'x'.repeat(100) + '\r\n--b\r\nA: 2\r\n\r\nsecond\r\n--b--';

  // Body not read at all.
  let reader = MultipartReader.from(chunks([latin1(text)]), 'b');
  let part = await reader.nextPart();
  await rejectsMultipart(reader.nextPart(), /previous part was not read to its end/);
  // The refusal does not disturb the part: it can still be read, and then the next one.
  assert.equal((await readBody(part!.body)).length, 100);
  assert.deepEqual((await reader.nextPart())?.headers, { a: '2' });

  // Body read partly: the iterator is suspended mid-part.
  reader = MultipartReader.from(chunks(split(latin1(text), () => 10)), 'b');
  part = await reader.nextPart();
  const iterator = part!.body[Symbol.asyncIterator]();
  assert.equal((await iterator.next()).done, false);
  await rejectsMultipart(reader.nextPart(), /previous part was not read to its end/);
  const rest: Buffer[] = [];
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value);
  assert.deepEqual((await reader.nextPart())?.headers, { a: '2' });

  // Body abandoned part-way (for await ... break): the reader must not mistake the rest for a new part.
  reader = MultipartReader.from(chunks(split(latin1(text), () => 10)), 'b');
  part = await reader.nextPart();
  for await (const _chunk of part!.body) break;
  await rejectsMultipart(reader.nextPart(), /previous part was not read to its end/);
});

test('after a body error the reader refuses further parts', async () => {
  // The garbage after the boundary looks like a header: it must not turn into a part of its own.
  const reader = MultipartReader.from(chunks([latin1('--b\r\n\r\nx\r\n--bX: 1\r\n\r\ny\r\n--b--')]), 'b');
  const part = await reader.nextPart();
  await rejectsMultipart(readBody(part!.body), /unexpected characters/);
  await assert.rejects(reader.nextPart(), MultipartError);
});

test('the source error propagates out of the body iteration', async () => {
  const source = (async function* () {
    yield latin1('--b\r\n\r\npartial');
    throw new Error('socket closed');
  })();
  const reader = MultipartReader.from(source, 'b');
  const part = await reader.nextPart();
  await assert.rejects(readBody(part!.body), /socket closed/);
});

// ---- streaming without buffering ----

/** V8's gc(), for honest memory measurements; undefined if the flag cannot be set. */
function exposeGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

test('a 50 MB part streams through in bounded chunks without being buffered', async () => {
  const gc = exposeGc();
  const boundary = 'stream-boundary-0123456789';
  const delimiterLength = boundary.length + 4;
  const partSize = 50 * 1024 * 1024;
  const inputChunk = 64 * 1024;
  const sentHash = createHash('sha256');
  // A repeating block full of near-delimiters, so the reader has to hold tails back all the time.
  const block = Buffer.concat([
    latin1(`\r\n--${boundary.slice(0, -1)}`),
    Buffer.from(Array.from({ length: 977 }, (_, i) => (i * 31) & 0xff)),
    latin1('\r\n--'),
  ]);

  async function* source(): AsyncGenerator<Buffer> {
    yield latin1(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
    let sent = 0;
    let phase = 0;
    while (sent < partSize) {
      const n = Math.min(inputChunk, partSize - sent);
      const chunk = Buffer.allocUnsafe(n); // a fresh buffer each time, as a socket gives
      for (let at = 0; at < n;) {
        const copied = block.copy(chunk, at, phase);
        at += copied;
        phase = (phase + copied) % block.length;
      }
      sentHash.update(chunk);
      sent += n;
      yield chunk;
    }
    yield latin1(`\r\n--${boundary}--\r\n`);
  }

  const measure = (): number => {
    gc?.();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const baseline = measure();
  let peak = 0;

  const reader = MultipartReader.from(source(), boundary);
  const part = await reader.nextPart();
  assert.deepEqual(part?.headers, { 'content-type': 'application/dicom' });
  const receivedHash = createHash('sha256');
  let received = 0;
  let maxChunk = 0;
  let sinceSample = 0;
  for await (const chunk of part.body) {
    receivedHash.update(chunk);
    received += chunk.length;
    maxChunk = Math.max(maxChunk, chunk.length);
    sinceSample += chunk.length;
    if (sinceSample >= 4 * 1024 * 1024) {
      sinceSample = 0;
      peak = Math.max(peak, measure() - baseline);
    }
  }
  assert.equal(await reader.nextPart(), undefined);
  assert.equal(received, partSize);
  assert.equal(receivedHash.digest('hex'), sentHash.digest('hex'));
  assert.ok(maxChunk <= inputChunk + delimiterLength, `largest chunk ${maxChunk}`);
  if (gc) assert.ok(peak < 16 * 1024 * 1024, `memory grew by ${peak} bytes while streaming 50 MB`);
});

test('a large preamble is skipped without being buffered', async () => {
  let sent = 0;
  async function* source(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 400; i++) {
      sent += 64 * 1024;
      yield Buffer.alloc(64 * 1024, i % 2 ? 0x2d : 0x0d);
    }
    yield latin1('\r\n--b\r\n\r\nbody\r\n--b--');
  }
  const reader = MultipartReader.from(source(), 'b');
  const part = await reader.nextPart();
  assert.equal((await readBody(part!.body)).toString(), 'body');
  assert.equal(sent, 400 * 64 * 1024);
  assert.equal(await reader.nextPart(), undefined);
});
