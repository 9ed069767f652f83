import type {
	IAuthenticateGeneric,
	IAuthenticateRuleResponseCode,
	IAuthenticateRuleResponseSuccessBody,
	Icon,
	ICredentialTestRequest,
	ICredentialType,
	INodeProperties,
} from 'n8n-workflow';

// What the credential test says for an answer that names the problem. n8n checks each rule by
// its type (a responseCode rule against an error answer's status, a responseSuccessBody rule
// against a 2xx answer's body), though its type for `rules` takes one kind per list.
type TestRule = IAuthenticateRuleResponseCode | IAuthenticateRuleResponseSuccessBody;

const TEST_RULES: TestRule[] = __TEST_RULES__;

export class CreativeAiApi implements ICredentialType {
	name = __CREDENTIAL__;

	displayName = 'CreativeAI API';

	icon: Icon = __ICON__;

	documentationUrl = __DOCS_URL__;

	properties: INodeProperties[] = __PROPERTIES__;

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: {
				Authorization: '=Bearer {{$credentials.apiKey}}',
			},
		},
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.baseUrl}}',
			url: __TEST_PATH__,
			method: 'GET',
		},
		rules: TEST_RULES as ICredentialTestRequest['rules'],
	};
}
