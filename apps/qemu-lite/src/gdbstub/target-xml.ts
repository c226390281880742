/**
 * The target description gdb reads with `qXfer:features:read:target.xml` (gdb manual, "Target
 * Descriptions"): i386:x86-64, the standard org.gnu.gdb.i386.core/.sse features gdb's amd64
 * code validates by register name, fs_base/gs_base in org.gnu.gdb.i386.segments (gdb ≥ 8), and
 * the control registers in org.gnu.gdb.i386.sys as QEMU names them. Generated from `REGISTERS`,
 * so the XML and the `g` packet cannot disagree.
 */
import { REGISTERS } from './registers.js';

const FLAG_TYPES = `<flags id="i386_eflags" size="4">
<field name="CF" start="0" end="0"/><field name="" start="1" end="1"/><field name="PF" start="2" end="2"/>
<field name="AF" start="4" end="4"/><field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
<field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/><field name="DF" start="10" end="10"/>
<field name="OF" start="11" end="11"/><field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/>
<field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/><field name="VIF" start="19" end="19"/>
<field name="VIP" start="20" end="20"/><field name="ID" start="21" end="21"/>
</flags>`;

const VEC128 = `<flags id="i386_mxcsr" size="4">
<field name="IE" start="0" end="0"/><field name="DE" start="1" end="1"/><field name="ZE" start="2" end="2"/>
<field name="OE" start="3" end="3"/><field name="UE" start="4" end="4"/><field name="PE" start="5" end="5"/>
<field name="DAZ" start="6" end="6"/><field name="IM" start="7" end="7"/><field name="DM" start="8" end="8"/>
<field name="ZM" start="9" end="9"/><field name="OM" start="10" end="10"/><field name="UM" start="11" end="11"/>
<field name="PM" start="12" end="12"/><field name="FZ" start="15" end="15"/>
</flags>
<vector id="v8bf16" type="bfloat16" count="8"/><vector id="v4f" type="ieee_single" count="4"/>
<vector id="v2d" type="ieee_double" count="2"/><vector id="v16i8" type="int8" count="16"/>
<vector id="v8i16" type="int16" count="8"/><vector id="v4i32" type="int32" count="4"/>
<vector id="v2i64" type="int64" count="2"/>
<union id="vec128"><field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>
<field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/>
<field name="v2_int64" type="v2i64"/><field name="uint128" type="uint128"/></union>`;

const FEATURES = [
  ['core', 'org.gnu.gdb.i386.core', FLAG_TYPES],
  ['sse', 'org.gnu.gdb.i386.sse', VEC128],
  ['segments', 'org.gnu.gdb.i386.segments', ''],
  ['sys', 'org.gnu.gdb.i386.sys', ''],
] as const;

function group(name: string): string {
  if (name.startsWith('st') || name.startsWith('f')) return name.startsWith('fs_') ? '' : ' group="float"';
  if (name.startsWith('xmm') || name === 'mxcsr') return ' group="vector"';
  return '';
}

export function targetXml(): string {
  let xml = '<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n<target version="1.0">\n';
  xml += '<architecture>i386:x86-64</architecture>\n';
  for (const [key, feature, types] of FEATURES) {
    xml += `<feature name="${feature}">\n${types}${types ? '\n' : ''}`;
    REGISTERS.forEach((r, n) => {
      if (r.feature === key)
        xml += `<reg name="${r.name}" bitsize="${r.bits}" type="${r.type}" regnum="${n}"${group(r.name)}/>\n`;
    });
    xml += '</feature>\n';
  }
  return `${xml}</target>\n`;
}
