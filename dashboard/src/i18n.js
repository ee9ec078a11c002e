// i18n.js owns the dashboard's words in English and Korean: t(key, vars)
// looks a key up in the chosen language ({name} placeholders filled from
// vars), and the choice is remembered in localStorage (actlog.lang). Numbers
// and dates follow the same language through format.js.

export const LANGS = ['en', 'ko'];
const STORAGE_KEY = 'actlog.lang';

const en = {
  'lang.label': 'Language', 'lang.en': 'English', 'lang.ko': '한국어',
  'nav.label': 'Pages', 'nav.skip': 'Skip to content',
  'nav.overview': 'Overview', 'nav.live': 'Live events', 'nav.journey': 'Journey', 'nav.funnels': 'Funnels',
  'nav.paths': 'Paths', 'nav.attribution': 'Attribution', 'nav.dwell': 'Dwell time', 'nav.dropoff': 'Drop-off',
  'nav.retention': 'Retention', 'nav.quality': 'Data quality', 'nav.sql': 'SQL',

  'action.run': 'Run', 'action.save': 'Save', 'action.cancel': 'Cancel', 'action.close': 'Close', 'action.delete': 'Delete',
  'action.confirmDelete': 'Click again to delete', 'action.rename': 'Rename', 'action.signout': 'Sign out',

  'state.loading': 'Loading…', 'state.error': 'Error:', 'state.empty': 'No events in this range',

  'signin.title': 'Sign in', 'signin.help': 'Enter the admin token of this actlog server (admin_token in its configuration).',
  'signin.token': 'Admin token', 'signin.submit': 'Sign in', 'signin.wrong': 'That token is not right',

  'range.label': 'Time range', 'range.today': 'Today', 'range.7d': '7 days', 'range.30d': '30 days', 'range.custom': 'Custom',
  'range.from': 'From', 'range.to': 'To', 'range.apply': 'Apply',

  'unit.d': 'd', 'unit.h': 'h', 'unit.m': 'm', 'unit.s': 's',

  'col.event': 'Event', 'col.count': 'Count', 'col.page': 'Page', 'col.page_path': 'Page path', 'col.screen_name': 'Screen',
  'col.members': 'Members', 'col.sessions': 'Sessions', 'col.section': 'Section', 'col.banner': 'Banner',
  'value.none': '(none)', 'value.unknownDevice': 'unknown device',

  'by.user': 'Members', 'by.session': 'Sessions', 'by.event': 'Event name', 'by.page_path': 'Page path', 'by.screen_name': 'Screen name',

  'filter.add': 'Filter', 'filter.title': 'Filters', 'filter.field': 'Field', 'filter.op': 'Operator', 'filter.value': 'Value',
  'filter.remove': 'Remove filter', 'filter.list': 'a, b, c',
  'op.eq': 'is', 'op.neq': 'is not', 'op.in': 'is one of', 'op.contains': 'contains', 'op.gt': '>', 'op.lt': '<',
  'window.amount': 'Window length', 'window.unit': 'Window unit', 'window.minutes': 'minutes', 'window.hours': 'hours', 'window.days': 'days',

  'overview.activeToday': 'Active members today (UTC)', 'overview.events': 'Events', 'overview.members': 'Members',
  'overview.accepted': 'Accepted', 'overview.rejected': 'Rejected', 'overview.perMinute': 'Events per minute, last hour',
  'overview.topEvents': 'Top events', 'overview.topPages': 'Top pages', 'overview.kafka': 'Kafka consumer',
  'overview.lag': 'Lag', 'overview.topic': 'Topic', 'overview.partition': 'Partition',

  'live.list': 'Events as they arrive', 'live.details': 'Event details', 'live.allEvents': 'All events', 'live.filters': 'Filters',
  'live.apply': 'Apply', 'live.pause': 'Pause', 'live.resume': 'Resume', 'live.resumeHeld': 'Resume ({n} new)', 'live.clear': 'Clear',
  'live.count': '{n} shown (newest first, at most 500)', 'live.waiting': 'Waiting for events…', 'live.journey': 'Open this member’s journey →',
  'live.connecting': 'Connecting…', 'live.connected': 'Live', 'live.reconnecting': 'Reconnecting…', 'live.closed': 'Disconnected',

  'journey.search': 'Search', 'journey.id': 'User id or anonymous id', 'journey.placeholder': 'e.g. m-1042 or an anonymous id',
  'journey.hint': 'Search a member to see their events across sessions and devices.', 'journey.recent': 'Recently signed in:',
  'journey.none': 'No events of this member in this range', 'journey.member': 'Member', 'journey.events': 'Events', 'journey.sessions': 'Sessions', 'journey.session': 'Session',
  'journey.eventsIn': '{n} events', 'journey.dwell': 'Time to the next event of the session',
  'journey.truncated': 'Only the first {n} events are shown: narrow the range to see the rest.',

  'funnel.builder': 'Steps', 'funnel.chooseEvent': 'Choose an event…', 'funnel.stepN': 'Step {n} event', 'funnel.up': 'Move step {n} up',
  'funnel.down': 'Move step {n} down', 'funnel.remove': 'Remove step {n}', 'funnel.addStep': 'Add step',
  'funnel.window': 'Conversion window', 'funnel.by': 'Count', 'funnel.breakdown': 'Breakdown', 'funnel.noBreakdown': 'No breakdown',
  'funnel.hint': 'Choose an event for every step, then run.', 'funnel.entered': 'Entered', 'funnel.converted': 'Completed',
  'funnel.rate': 'Overall conversion', 'funnel.steps': 'Steps', 'funnel.step': 'Step', 'funnel.fromStart': 'From start',
  'funnel.fromPrevious': 'From previous', 'funnel.median': 'Median time from previous', 'funnel.breakdownBy': 'Breakdown by {field}',
  'funnel.overall': 'Overall',
  'saved.title': 'Saved funnels', 'saved.name': 'Funnel name', 'saved.none': 'No saved funnels yet.', 'saved.update': 'Update',
  'saved.asNew': 'Save as new', 'saved.done': 'Saved “{name}”.',

  'paths.anchor': 'Direction', 'paths.start': 'After the event', 'paths.end': 'Before the event', 'paths.by': 'Steps by',
  'paths.depth': 'Depth', 'paths.limit': 'Values per step', 'paths.nodes': 'Nodes', 'paths.showNodes': 'Show all {n} nodes',
  'paths.step': 'Step', 'paths.value': 'Value',

  'attribution.conversion': 'Conversion event', 'attribution.touch': 'Touch', 'attribution.model': 'Model',
  'attribution.last': 'Last touch', 'attribution.first': 'First touch', 'attribution.window': 'Look-back window',
  'attribution.conversions': 'Conversions', 'attribution.attributed': 'Attributed', 'attribution.unattributed': 'Unattributed',
  'attribution.chart': 'Conversions by {touch}', 'attribution.table': 'Ranking', 'attribution.rateCol': 'Conversion rate',

  'dwell.by': 'Group by', 'dwell.until': 'A view ends at', 'dwell.nextEvent': 'the next event', 'dwell.nextView': 'the next page or screen view',
  'dwell.distribution': 'How long views last, top {n}', 'dwell.table': 'Dwell time', 'dwell.views': 'Views',
  'dwell.limit': 'Rows', 'dwell.p50': 'Median', 'dwell.p90': '90th percentile', 'dwell.engaged': 'Avg. engaged',

  'dropoff.page': 'Page event', 'dropoff.conversion': 'Conversion event', 'dropoff.window': 'Within',
  'dropoff.reached': 'Sessions that reached it', 'dropoff.converted': 'Converted', 'dropoff.dropped': 'Dropped off',
  'dropoff.chart': 'Where they stopped', 'dropoff.table': 'Last event before leaving', 'dropoff.lastEvent': 'Last event', 'dropoff.share': 'Share',

  'retention.start': 'Start event', 'retention.return': 'Return event', 'retention.period': 'Period', 'retention.periods': 'Periods',
  'retention.day': 'Day', 'retention.week': 'Week (Mon–Sun, UTC)', 'retention.grid': 'Cohorts', 'retention.cohort': 'Cohort',
  'retention.dayN': 'Day {n}', 'retention.weekN': 'Week {n}', 'retention.mean': 'All cohorts',
  'retention.note': 'Each cell: the share of the cohort that did the return event in that period. Blank: the period had not started by the end of the range.',

  'quality.total': 'Rejected events', 'quality.reasons': 'Reasons', 'quality.byReason': 'By reason and source',
  'quality.none': 'No rejected events in this range', 'quality.index': 'event #{n} of its request', 'quality.noSamples': 'No samples kept.',
  'quality.plan': 'Tracking plan violations', 'quality.planInForce': 'Plan in force · events planned: {n} · default enforcement: {mode}', 'quality.flagged': 'Flagged',
  'quality.planRejected': 'Rejected by the plan', 'quality.event': 'Event', 'quality.rule': 'Rule', 'quality.path': 'Property', 'quality.sources': 'Sources',
  'quality.example': 'Latest message', 'quality.noViolations': 'No violations in this range.',

  'sql.label': 'Query (one SELECT, DuckDB SQL)', 'sql.hint': 'Ctrl+Enter or ⌘+Enter runs the query', 'sql.meta': '{n} rows · {ms} ms',
  'sql.truncated': 'More rows exist than were returned.', 'sql.csv': 'Download CSV', 'sql.noRows': 'The query returned no rows.',
  'sql.start': 'Write a query and run it.',
};

const ko = {
  'lang.label': '언어', 'lang.en': 'English', 'lang.ko': '한국어',
  'nav.label': '페이지', 'nav.skip': '본문으로 건너뛰기',
  'nav.overview': '개요', 'nav.live': '실시간 이벤트', 'nav.journey': '사용자 여정', 'nav.funnels': '퍼널',
  'nav.paths': '경로', 'nav.attribution': '기여 분석', 'nav.dwell': '체류 시간', 'nav.dropoff': '이탈 분석',
  'nav.retention': '리텐션', 'nav.quality': '데이터 품질', 'nav.sql': 'SQL',

  'action.run': '실행', 'action.save': '저장', 'action.cancel': '취소', 'action.close': '닫기', 'action.delete': '삭제',
  'action.confirmDelete': '한 번 더 누르면 삭제', 'action.rename': '이름 변경', 'action.signout': '로그아웃',

  'state.loading': '불러오는 중…', 'state.error': '오류:', 'state.empty': '이 기간에 이벤트가 없습니다',

  'signin.title': '로그인', 'signin.help': '이 actlog 서버의 관리자 토큰(설정의 admin_token)을 입력하세요.',
  'signin.token': '관리자 토큰', 'signin.submit': '로그인', 'signin.wrong': '토큰이 올바르지 않습니다',

  'range.label': '기간', 'range.today': '오늘', 'range.7d': '7일', 'range.30d': '30일', 'range.custom': '직접 지정',
  'range.from': '시작', 'range.to': '끝', 'range.apply': '적용',

  'unit.d': '일', 'unit.h': '시간', 'unit.m': '분', 'unit.s': '초',

  'col.event': '이벤트', 'col.count': '건수', 'col.page': '페이지', 'col.page_path': '페이지 경로', 'col.screen_name': '화면',
  'col.members': '회원', 'col.sessions': '세션', 'col.section': '섹션', 'col.banner': '배너',
  'value.none': '(없음)', 'value.unknownDevice': '알 수 없는 기기',

  'by.user': '회원 기준', 'by.session': '세션 기준', 'by.event': '이벤트 이름', 'by.page_path': '페이지 경로', 'by.screen_name': '화면 이름',

  'filter.add': '필터', 'filter.title': '필터', 'filter.field': '필드', 'filter.op': '조건', 'filter.value': '값',
  'filter.remove': '필터 삭제', 'filter.list': 'a, b, c',
  'op.eq': '같음', 'op.neq': '같지 않음', 'op.in': '다음 중 하나', 'op.contains': '포함', 'op.gt': '>', 'op.lt': '<',
  'window.amount': '기간 길이', 'window.unit': '기간 단위', 'window.minutes': '분', 'window.hours': '시간', 'window.days': '일',

  'overview.activeToday': '오늘 활성 회원 (UTC)', 'overview.events': '이벤트', 'overview.members': '회원',
  'overview.accepted': '수집됨', 'overview.rejected': '거부됨', 'overview.perMinute': '분당 이벤트 (최근 1시간)',
  'overview.topEvents': '상위 이벤트', 'overview.topPages': '상위 페이지', 'overview.kafka': 'Kafka 컨슈머',
  'overview.lag': '지연', 'overview.topic': '토픽', 'overview.partition': '파티션',

  'live.list': '도착하는 이벤트', 'live.details': '이벤트 상세', 'live.allEvents': '모든 이벤트', 'live.filters': '필터',
  'live.apply': '적용', 'live.pause': '일시정지', 'live.resume': '재개', 'live.resumeHeld': '재개 (새 이벤트 {n}건)', 'live.clear': '지우기',
  'live.count': '{n}건 표시 (최신순, 최대 500건)', 'live.waiting': '이벤트를 기다리는 중…', 'live.journey': '이 회원의 여정 보기 →',
  'live.connecting': '연결 중…', 'live.connected': '실시간', 'live.reconnecting': '다시 연결 중…', 'live.closed': '연결 끊김',

  'journey.search': '검색', 'journey.id': '사용자 ID 또는 익명 ID', 'journey.placeholder': '예: m-1042 또는 익명 ID',
  'journey.hint': '회원을 검색하면 세션과 기기를 넘나든 이벤트를 볼 수 있습니다.', 'journey.recent': '최근 로그인:',
  'journey.none': '이 기간에 이 회원의 이벤트가 없습니다', 'journey.member': '회원', 'journey.events': '이벤트', 'journey.sessions': '세션', 'journey.session': '세션',
  'journey.eventsIn': '이벤트 {n}건', 'journey.dwell': '세션의 다음 이벤트까지 걸린 시간',
  'journey.truncated': '처음 {n}건만 표시합니다. 나머지는 기간을 좁혀 보세요.',

  'funnel.builder': '단계', 'funnel.chooseEvent': '이벤트 선택…', 'funnel.stepN': '{n}단계 이벤트', 'funnel.up': '{n}단계를 위로',
  'funnel.down': '{n}단계를 아래로', 'funnel.remove': '{n}단계 삭제', 'funnel.addStep': '단계 추가',
  'funnel.window': '전환 기간', 'funnel.by': '집계 기준', 'funnel.breakdown': '세부 분류', 'funnel.noBreakdown': '세부 분류 없음',
  'funnel.hint': '모든 단계의 이벤트를 고른 뒤 실행하세요.', 'funnel.entered': '진입', 'funnel.converted': '완료',
  'funnel.rate': '전체 전환율', 'funnel.steps': '단계별 결과', 'funnel.step': '단계', 'funnel.fromStart': '첫 단계 대비',
  'funnel.fromPrevious': '이전 단계 대비', 'funnel.median': '이전 단계부터 걸린 시간 (중앙값)', 'funnel.breakdownBy': '{field}별 세부 분류',
  'funnel.overall': '전체',
  'saved.title': '저장한 퍼널', 'saved.name': '퍼널 이름', 'saved.none': '저장한 퍼널이 없습니다.', 'saved.update': '업데이트',
  'saved.asNew': '새로 저장', 'saved.done': '“{name}” 저장됨.',

  'paths.anchor': '방향', 'paths.start': '이벤트 이후', 'paths.end': '이벤트 이전', 'paths.by': '단계 기준',
  'paths.depth': '깊이', 'paths.limit': '단계별 값 수', 'paths.nodes': '노드', 'paths.showNodes': '노드 {n}개 모두 보기',
  'paths.step': '단계', 'paths.value': '값',

  'attribution.conversion': '전환 이벤트', 'attribution.touch': '접점', 'attribution.model': '모델',
  'attribution.last': '마지막 접점', 'attribution.first': '첫 접점', 'attribution.window': '조회 기간',
  'attribution.conversions': '전환', 'attribution.attributed': '기여 확인', 'attribution.unattributed': '기여 없음',
  'attribution.chart': '{touch}별 전환', 'attribution.table': '순위', 'attribution.rateCol': '전환율',

  'dwell.by': '그룹 기준', 'dwell.until': '조회 종료 기준', 'dwell.nextEvent': '다음 이벤트', 'dwell.nextView': '다음 페이지/화면 조회',
  'dwell.distribution': '체류 시간 분포 (상위 {n}개)', 'dwell.table': '체류 시간', 'dwell.views': '조회수',
  'dwell.limit': '행 수', 'dwell.p50': '중앙값', 'dwell.p90': '90번째 백분위', 'dwell.engaged': '평균 실제 체류',

  'dropoff.page': '페이지 이벤트', 'dropoff.conversion': '전환 이벤트', 'dropoff.window': '기간',
  'dropoff.reached': '도달한 세션', 'dropoff.converted': '전환', 'dropoff.dropped': '이탈',
  'dropoff.chart': '이탈 지점', 'dropoff.table': '이탈 직전 이벤트', 'dropoff.lastEvent': '마지막 이벤트', 'dropoff.share': '비율',

  'retention.start': '시작 이벤트', 'retention.return': '재방문 이벤트', 'retention.period': '주기', 'retention.periods': '기간 수',
  'retention.day': '일', 'retention.week': '주 (월–일, UTC)', 'retention.grid': '코호트', 'retention.cohort': '코호트',
  'retention.dayN': '{n}일차', 'retention.weekN': '{n}주차', 'retention.mean': '전체 코호트',
  'retention.note': '각 칸: 해당 기간에 재방문 이벤트를 한 코호트 비율. 빈칸: 기간 끝까지 시작되지 않은 기간.',

  'quality.total': '거부된 이벤트', 'quality.reasons': '사유', 'quality.byReason': '사유 및 소스별',
  'quality.none': '이 기간에 거부된 이벤트가 없습니다', 'quality.index': '요청 내 {n}번째 이벤트', 'quality.noSamples': '보관된 샘플이 없습니다.',
  'quality.plan': '트래킹 플랜 위반', 'quality.planInForce': '적용 중인 플랜: 이벤트 {n}개, 기본 적용 {mode}', 'quality.flagged': '표시됨',
  'quality.planRejected': '플랜으로 거부됨', 'quality.event': '이벤트', 'quality.rule': '규칙', 'quality.path': '속성', 'quality.sources': '소스',
  'quality.example': '최근 메시지', 'quality.noViolations': '이 기간에 위반이 없습니다.',

  'sql.label': '쿼리 (SELECT 한 개, DuckDB SQL)', 'sql.hint': 'Ctrl+Enter 또는 ⌘+Enter로 실행', 'sql.meta': '{n}행 · {ms} ms',
  'sql.truncated': '반환된 것보다 많은 행이 있습니다.', 'sql.csv': 'CSV 다운로드', 'sql.noRows': '결과 행이 없습니다.',
  'sql.start': '쿼리를 작성하고 실행하세요.',
};

const dict = { en, ko };

function initial() {
  let saved = null;
  try { saved = localStorage.getItem(STORAGE_KEY); } catch { /* storage blocked */ }
  if (LANGS.includes(saved)) return saved;
  return (navigator.language || '').toLowerCase().startsWith('ko') ? 'ko' : 'en';
}

let current = initial();

export const lang = () => current;

export function setLang(l) {
  if (!LANGS.includes(l)) return;
  current = l;
  try { localStorage.setItem(STORAGE_KEY, l); } catch { /* storage blocked */ }
  document.documentElement.lang = l;
}

export function t(key, vars) {
  const s = dict[current][key] ?? en[key] ?? key;
  return vars ? s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : s;
}
