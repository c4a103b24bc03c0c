// A simulated ONVIF camera for tests: a WS-Discovery responder (UDP 3702, multicast 239.255.255.250) and the SOAP
// device and media services a real Profile S camera answers, with WS-UsernameToken (PasswordDigest) checked.
// Usage: node --import tsx onvif_device.ts --ip 10.0.0.1 --port 8000 --rtsp rtsp://10.0.0.1:8554
// Credentials come from GUARDIAN_TEST_ONVIF_AUTH=user:password. Prints "READY" when both services listen.
import { createHash, randomUUID } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { ip: { type: 'string' }, port: { type: 'string', default: '8000' }, rtsp: { type: 'string' } },
});
const ip = values.ip ?? '127.0.0.1';
const port = Number(values.port);
const rtspBase = values.rtsp ?? `rtsp://${ip}:8554`;
const [user, password] = (process.env.GUARDIAN_TEST_ONVIF_AUTH ?? 'admin:admin').split(':') as [string, string];
const urn = `urn:uuid:${randomUUID()}`;
const xaddr = `http://${ip}:${port}/onvif/device_service`;

const NS =
  'xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" ' +
  'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" ' +
  'xmlns:ter="http://www.onvif.org/ver10/error"';
const envelope = (body: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><s:Envelope ${NS}><s:Body>${body}</s:Body></s:Envelope>`;
const fault = (sub: string, reason: string) =>
  envelope(
    `<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>${sub}</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">${reason}</s:Text></s:Reason></s:Fault>`,
  );

const profiles = [
  { token: 'main', name: 'MainStream', path: 'vtest-1080p', w: 1920, h: 1080, fps: 15, kbps: 3000 },
  { token: 'sub', name: 'SubStream', path: 'vtest', w: 768, h: 576, fps: 10, kbps: 512 },
];

function profileXml(p: (typeof profiles)[number]): string {
  return (
    `<trt:Profiles token="${p.token}" fixed="true"><tt:Name>${p.name}</tt:Name>` +
    `<tt:VideoSourceConfiguration token="vsc0"><tt:Name>VideoSource</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>vs0</tt:SourceToken><tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>` +
    `<tt:VideoEncoderConfiguration token="enc-${p.token}"><tt:Name>${p.name}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>` +
    `<tt:Resolution><tt:Width>${p.w}</tt:Width><tt:Height>${p.h}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>` +
    `<tt:RateControl><tt:FrameRateLimit>${p.fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>${p.kbps}</tt:BitrateLimit></tt:RateControl>` +
    `<tt:H264><tt:GovLength>20</tt:GovLength><tt:H264Profile>High</tt:H264Profile></tt:H264><tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration></trt:Profiles>`
  );
}

function mediaUri(uri: string): string {
  return `<trt:MediaUri><tt:Uri>${uri}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>`;
}

function tag(xml: string, name: string): string | undefined {
  return new RegExp(`<(?:\\w+:)?${name}\\b[^>]*>([^<]*)</(?:\\w+:)?${name}>`).exec(xml)?.[1];
}

// WS-UsernameToken: PasswordDigest = Base64(SHA-1(nonce + created + password)).
function authorised(xml: string): boolean {
  const u = tag(xml, 'Username');
  const digest = tag(xml, 'Password');
  const nonce = tag(xml, 'Nonce');
  const created = tag(xml, 'Created');
  if (u !== user || !digest || !nonce || !created) return false;
  const want = createHash('sha1')
    .update(Buffer.concat([Buffer.from(nonce, 'base64'), Buffer.from(created), Buffer.from(password)]))
    .digest('base64');
  return want === digest;
}

function answer(action: string, xml: string): string | undefined {
  const now = new Date();
  switch (action) {
    case 'GetSystemDateAndTime':
      return `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime><tt:Time><tt:Hour>${now.getUTCHours()}</tt:Hour><tt:Minute>${now.getUTCMinutes()}</tt:Minute><tt:Second>${now.getUTCSeconds()}</tt:Second></tt:Time><tt:Date><tt:Year>${now.getUTCFullYear()}</tt:Year><tt:Month>${now.getUTCMonth() + 1}</tt:Month><tt:Day>${now.getUTCDate()}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`;
    case 'GetCapabilities':
      return `<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>${xaddr}</tt:XAddr></tt:Device><tt:Media><tt:XAddr>http://${ip}:${port}/onvif/media_service</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>`;
    case 'GetDeviceInformation':
      return '<tds:GetDeviceInformationResponse><tds:Manufacturer>Guardian Labs</tds:Manufacturer><tds:Model>SimCam 2</tds:Model><tds:FirmwareVersion>2.1.0</tds:FirmwareVersion><tds:SerialNumber>SIM-0042</tds:SerialNumber><tds:HardwareId>1</tds:HardwareId></tds:GetDeviceInformationResponse>';
    case 'GetProfiles':
      return `<trt:GetProfilesResponse>${profiles.map(profileXml).join('')}</trt:GetProfilesResponse>`;
    case 'GetVideoSources':
      return '<trt:GetVideoSourcesResponse><trt:VideoSources token="vs0"><tt:Framerate>15</tt:Framerate><tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution></trt:VideoSources></trt:GetVideoSourcesResponse>';
    case 'GetStreamUri': {
      const p = profiles.find((x) => x.token === tag(xml, 'ProfileToken'));
      return p
        ? `<trt:GetStreamUriResponse>${mediaUri(`${rtspBase}/${p.path}`)}</trt:GetStreamUriResponse>`
        : undefined;
    }
    case 'GetSnapshotUri':
      return `<trt:GetSnapshotUriResponse>${mediaUri(`http://${ip}:${port}/snapshot.jpg`)}</trt:GetSnapshotUriResponse>`;
    default:
      return undefined;
  }
}

const http = createServer((req, res) => {
  let body = '';
  req.on('data', (d) => {
    body += d;
  });
  req.on('end', () => {
    const action = /<(?:\w+:)?Body[^>]*>\s*<(?:\w+:)?(\w+)/.exec(body)?.[1] ?? '';
    const send = (status: number, xml: string) => {
      res.writeHead(status, { 'Content-Type': 'application/soap+xml; charset=utf-8' });
      res.end(xml);
    };
    // Only the clock may be read without credentials, as the ONVIF core specification allows.
    if (action !== 'GetSystemDateAndTime' && !authorised(body))
      return send(400, fault('ter:NotAuthorized', 'Sender not Authorized'));
    const out = answer(action, body);
    if (!out) return send(400, fault('ter:ActionNotSupported', `${action} is not supported`));
    send(200, envelope(out));
  });
});

const udp = createSocket({ type: 'udp4', reuseAddr: true });
udp.on('message', (msg, rinfo) => {
  const xml = msg.toString();
  if (!/Probe\b/.test(xml) || !/NetworkVideoTransmitter|<(?:\w+:)?Types\s*\/>|<(?:\w+:)?Probe\b/.test(xml)) return;
  const relates = tag(xml, 'MessageID') ?? '';
  const reply =
    '<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">' +
    `<s:Header><a:MessageID>urn:uuid:${randomUUID()}</a:MessageID><a:RelatesTo>${relates}</a:RelatesTo><a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action></s:Header>` +
    `<s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>${urn}</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/SimCam</d:Scopes><d:XAddrs>${xaddr}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>`;
  udp.send(reply, rinfo.port, rinfo.address);
});

udp.bind(3702, () => {
  udp.addMembership('239.255.255.250', ip);
  http.listen(port, ip, () => console.log('READY'));
});
process.on('SIGTERM', () => process.exit(0));
